/**
 * Workspace Trust. A repository's own `.vscode/settings.json` must not choose what the
 * extension runs or which files the server loads and writes. package.json lists those
 * settings under `capabilities.untrustedWorkspaces.restrictedConfigurations`; in Restricted
 * Mode they come from the user's settings (or the remote machine's) and the defaults only.
 * VS Code itself ignores workspace values of restricted settings; reading them through
 * `trustedSettings` keeps the rule in our own code too, for editors that do not.
 */
import type * as vscode from 'vscode';

/** What the extension reads settings through: `get` by key, without the `codequest.` prefix. */
export interface SettingsReader {
    get<T>(key: string): T | undefined;
}

type Inspectable = SettingsReader & Pick<vscode.WorkspaceConfiguration, 'inspect'>;

interface PackageJson {
    capabilities?: { untrustedWorkspaces?: { restrictedConfigurations?: unknown } };
}

/** The restricted setting names (camelCase, without `codequest.`), from package.json. */
export function restrictedSettingKeys(packageJson: unknown): string[] {
    const listed = (packageJson as PackageJson | undefined)?.capabilities?.untrustedWorkspaces?.restrictedConfigurations;
    return (Array.isArray(listed) ? listed : [])
        .filter((key): key is string => typeof key === 'string' && key.startsWith('codequest.'))
        .map((key) => key.slice('codequest.'.length));
}

/**
 * Settings as the extension may use them: all of them in a trusted workspace; in Restricted
 * Mode, the restricted ones from the user's settings, else their defaults.
 */
export function trustedSettings(config: Inspectable, restricted: ReadonlySet<string>, trusted: boolean): SettingsReader {
    if (trusted) {
        return config;
    }
    return {
        get<T>(key: string): T | undefined {
            if (!restricted.has(key)) {
                return config.get<T>(key);
            }
            const layers = config.inspect<T>(key);
            return layers?.globalValue ?? layers?.defaultValue;
        },
    };
}

/** The restricted settings that the workspace (or one of its folders) sets, to say they are ignored. */
export function workspaceValuesOf(config: Pick<vscode.WorkspaceConfiguration, 'inspect'>, restricted: Iterable<string>): string[] {
    return [...restricted].filter((key) => {
        const layers = config.inspect(key);
        return layers?.workspaceValue !== undefined || layers?.workspaceFolderValue !== undefined;
    });
}

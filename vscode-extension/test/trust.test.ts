import * as fs from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { restrictedSettingKeys, trustedSettings, workspaceValuesOf } from '../src/trust';
import { stub, workspace } from './vscode';

interface Setting {
    scope?: string;
}
const packageJson = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    capabilities?: { untrustedWorkspaces?: { supported?: unknown; description?: unknown; restrictedConfigurations?: unknown } };
    contributes: { configuration: { properties: Record<string, Setting> } };
};
const properties = packageJson.contributes.configuration.properties;

/** The settings a workspace must not choose in Restricted Mode, each with its reason. */
const RESTRICTED: Record<string, string> = {
    interpreter: 'the command the extension runs',
    model: 'a folder the server loads a model from',
    queryEncoder: 'a folder the server loads a query encoder from',
    cacheDir: 'where the server writes the index',
    indexPath: 'a folder the server reads an index from',
};

beforeEach(() => stub.reset());

describe('the manifest', () => {
    const untrusted = packageJson.capabilities?.untrustedWorkspaces;

    it('supports untrusted workspaces in a limited way, saying what is limited', () => {
        expect(untrusted?.supported).toBe('limited');
        expect(typeof untrusted?.description).toBe('string');
        expect(untrusted?.description).toMatch(/Restricted Mode/);
    });

    it('restricts exactly the settings that run a program or name files', () => {
        const listed = untrusted?.restrictedConfigurations as string[];
        expect([...listed].sort()).toEqual(Object.keys(RESTRICTED).map((key) => `codequest.${key}`).sort());
        expect(restrictedSettingKeys(packageJson).sort()).toEqual(Object.keys(RESTRICTED).sort());
        for (const key of listed) {
            // Declared, and at a scope a workspace can set (else restricting it means nothing).
            expect(properties[key], key).toBeDefined();
            expect(['resource', 'window', 'machine-overridable', 'language-overridable'], key).toContain(properties[key].scope);
        }
    });

    it('lets the interpreter be set per machine, and overridden by a trusted workspace', () => {
        expect(properties['codequest.interpreter'].scope).toBe('machine-overridable');
    });

    it('reads no restricted keys from elsewhere', () => {
        expect(restrictedSettingKeys({})).toEqual([]);
        expect(restrictedSettingKeys({ capabilities: { untrustedWorkspaces: { restrictedConfigurations: ['other.x', 3] } } })).toEqual([]);
    });
});

describe('trustedSettings', () => {
    const restricted = new Set(Object.keys(RESTRICTED));
    const config = () => workspace.getConfiguration('codequest');

    beforeEach(() => {
        stub.defaults.set('codequest.model', 'all-MiniLM-L6-v2');
        stub.defaults.set('codequest.interpreter', []);
        stub.config.set('codequest.interpreter', ['/usr/local/bin/python3']);
        stub.workspaceConfig.set('codequest.interpreter', ['./evil.sh']);
        stub.workspaceConfig.set('codequest.model', './evil-model');
        stub.workspaceConfig.set('codequest.maxResults', 5);
    });

    it('gives every workspace value in a trusted workspace', () => {
        const settings = trustedSettings(config(), restricted, true);
        expect(settings.get('interpreter')).toEqual(['./evil.sh']);
        expect(settings.get('model')).toBe('./evil-model');
        expect(settings.get('maxResults')).toBe(5);
    });

    it('in Restricted Mode, takes restricted settings from the user, else the default', () => {
        const settings = trustedSettings(config(), restricted, false);
        expect(settings.get('interpreter')).toEqual(['/usr/local/bin/python3']);
        expect(settings.get('model')).toBe('all-MiniLM-L6-v2');
        expect(settings.get('cacheDir')).toBeUndefined();
        expect(settings.get('maxResults')).toBe(5); // not restricted: the workspace's value holds
    });

    it('names the workspace values it ignores', () => {
        expect(workspaceValuesOf(config(), restricted).sort()).toEqual(['interpreter', 'model']);
    });
});

/**
 * Wiring: the output channel, the status bar, the server and the palette commands.
 * Palette command ids (`codequest.search`, ...) differ from the server's executeCommand ids
 * (`codequest.reindex`, `codequest.status`), which the language client registers itself.
 * Settings are read through `trustedSettings` (see trust.ts); granting the workspace trust
 * restarts the server with the workspace's own settings.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { errorText } from './errors';
import { type PickerDeps, showSearchPicker } from './picker';
import {
    SEARCH_REQUEST,
    SERVER_REINDEX,
    SERVER_STATUS,
    type SearchParams,
    type SearchResponse,
    type StatusReply,
} from './protocol';
import { getPythonExtensionApi, preflight, resolveInterpreter } from './python';
import { Debouncer, similarQuery } from './search';
import {
    createLanguageClient,
    needsRestart,
    readServerSettings,
    ServerManager,
    ServerNotRunningError,
    serverSettingKeys,
} from './server';
import { formatStatusReply, StatusBar } from './status';
import { restrictedSettingKeys, trustedSettings, workspaceValuesOf } from './trust';

const RESTART_DELAY_MS = 500;

let active: ServerManager | undefined;

export function activate(context: vscode.ExtensionContext): void {
    const log = vscode.window.createOutputChannel('CodeQuest', { log: true });
    const status = new StatusBar(vscode.window.createStatusBarItem('codequest.status', vscode.StatusBarAlignment.Left));
    const keys = serverSettingKeys(context.extension.packageJSON);
    const restricted = new Set(restrictedSettingKeys(context.extension.packageJSON));
    const folder = () => vscode.workspace.workspaceFolders?.[0]?.uri;
    const trusted = () => vscode.workspace.isTrusted;
    const rawConfig = () => vscode.workspace.getConfiguration('codequest', folder());
    const config = () => trustedSettings(rawConfig(), restricted, trusted());

    const server: ServerManager = new ServerManager({
        log,
        trusted,
        interpreter: () =>
            resolveInterpreter({
                setting: config().get('interpreter'),
                resource: folder(),
                workspaceFolder: folder()?.fsPath,
                pythonApi: getPythonExtensionApi,
                log,
                trusted: trusted(),
            }),
        preflight: (command, cwd) => preflight(command, cwd),
        settings: () => {
            const ignored = trusted() ? [] : workspaceValuesOf(rawConfig(), restricted);
            if (ignored.length > 0) {
                log.warn(`Restricted Mode: ignoring the workspace's ${ignored.map((k) => `codequest.${k}`).join(', ')}`);
            }
            return readServerSettings(config(), keys);
        },
        // Restricted Mode: not in the workspace, where `python3` or an import could pick up its files.
        cwd: () => (trusted() ? existingDir(folder()) : context.extensionPath),
        createClient: createLanguageClient,
        reportFailure: (message) => void showFailure(message, log, server),
    });
    active = server;
    const picker: PickerDeps = {
        search: (query, token) => server.request<SearchResponse>(SEARCH_REQUEST, { query } satisfies SearchParams, token),
        index: () => status.index,
        onIndexStatus: server.onIndexStatus,
        log,
    };
    const requireServer = () => {
        if (server.state === 'failed') {
            throw new ServerNotRunningError(server.failure ?? 'CodeQuest: the server is not running.');
        }
    };
    const restartSoon = new Debouncer(RESTART_DELAY_MS);
    const restart = () => restartSoon.schedule(() => void server.restart());
    // Restricted Mode does not use the Python extension's interpreter, nor activate it.
    let watching = false;
    const watchPython = () => {
        if (trusted() && !watching) {
            watching = true;
            void watchPythonInterpreter(context, log, () => {
                if ((config().get<string[]>('interpreter') ?? []).length === 0) {
                    log.info('the Python extension changed its interpreter; restarting the server');
                    restart();
                }
            });
        }
    };

    // A command that fails says so once; "server not running" gets the start-failure message.
    const command = (id: string, run: () => unknown) =>
        vscode.commands.registerCommand(id, async () => {
            try {
                await run();
            } catch (err) {
                if (err instanceof ServerNotRunningError) {
                    void showFailure(err.message, log, server);
                } else {
                    log.error(`${id} failed: ${errorText(err)}`);
                    void vscode.window.showErrorMessage(`CodeQuest: ${errorText(err)}`);
                }
            }
        });

    context.subscriptions.push(
        log,
        status,
        server,
        { dispose: () => restartSoon.cancel() },
        server.onDidChangeState(({ state, failure }) => status.setServer(state, failure)),
        server.onIndexStatus((index) => status.setIndex(index)),
        command('codequest.search', () => {
            requireServer();
            showSearchPicker(picker, { title: 'CodeQuest: Semantic Search' });
        }),
        command('codequest.findSimilar', () => {
            requireServer();
            findSimilar(picker);
        }),
        command('codequest.reindexWorkspace', async () => {
            await server.executeCommand(SERVER_REINDEX);
            vscode.window.setStatusBarMessage('CodeQuest: re-indexing the workspace…', 3000);
        }),
        command('codequest.showStatus', () => showStatus(server, log)),
        command('codequest.restartServer', () => server.restart()),
        vscode.workspace.onDidChangeConfiguration((event) => {
            if (needsRestart(event, keys)) {
                log.info('settings changed; restarting the server');
                restart();
            }
        }),
        vscode.workspace.onDidGrantWorkspaceTrust(() => {
            log.info('the workspace is trusted now; restarting the server with its settings');
            watchPython();
            restart();
        }),
        vscode.workspace.onDidChangeWorkspaceFolders(() => {
            if (server.state === 'stopped' && vscode.workspace.workspaceFolders?.length) {
                void server.start();
            }
        }),
    );
    watchPython();
    if (vscode.workspace.workspaceFolders?.length) {
        void server.start();
    } else {
        log.info('no folder is open; the server starts when one is added');
    }
}

export function deactivate(): Promise<void> | undefined {
    const server = active;
    active = undefined;
    return server?.stop();
}

/** The folder to run the server in: the first workspace folder, when it exists on disk. */
function existingDir(uri: vscode.Uri | undefined): string | undefined {
    return uri?.scheme === 'file' && fs.existsSync(uri.fsPath) ? uri.fsPath : undefined;
}

function findSimilar(picker: PickerDeps): void {
    const editor = vscode.window.activeTextEditor;
    const query = editor ? similarQuery(editor.document, editor.selection) : '';
    if (!editor || !query) {
        void vscode.window.showInformationMessage('CodeQuest: select some code (or put the cursor in it) to find similar code.');
        return;
    }
    showSearchPicker(picker, {
        title: 'CodeQuest: Find Similar Code',
        value: query,
        origin: { uri: editor.document.uri.toString(), line: editor.selection.active.line },
    });
}

async function showStatus(server: ServerManager, log: vscode.LogOutputChannel): Promise<void> {
    const reply = await server.executeCommand<StatusReply>(SERVER_STATUS);
    log.info(`status: ${JSON.stringify(reply)}`);
    const choice = await vscode.window.showInformationMessage(
        `CodeQuest — ${formatStatusReply(reply).join('; ')}`,
        'Re-index',
        'Show Log',
    );
    if (choice === 'Re-index') {
        await vscode.commands.executeCommand('codequest.reindexWorkspace');
    } else if (choice === 'Show Log') {
        log.show();
    }
}

async function showFailure(message: string, log: vscode.LogOutputChannel, server: ServerManager): Promise<void> {
    const choice = await vscode.window.showErrorMessage(message, 'Show Log', 'Open Settings', 'Restart Server');
    if (choice === 'Show Log') {
        log.show();
    } else if (choice === 'Open Settings') {
        await vscode.commands.executeCommand('workbench.action.openSettings', 'codequest.interpreter');
    } else if (choice === 'Restart Server') {
        await server.restart();
    }
}

async function watchPythonInterpreter(
    context: vscode.ExtensionContext,
    log: vscode.LogOutputChannel,
    onChange: () => void,
): Promise<void> {
    try {
        const api = await getPythonExtensionApi();
        const event =
            api?.environments?.onDidChangeActiveEnvironmentPath ??
            api?.environment?.onDidChangeActiveEnvironmentPath ??
            api?.settings?.onDidChangeExecutionDetails;
        if (event) {
            context.subscriptions.push(event(onChange));
        }
    } catch (err) {
        log.warn(`could not watch the Python extension's interpreter: ${errorText(err)}`);
    }
}

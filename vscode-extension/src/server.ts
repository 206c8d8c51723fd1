/**
 * The language-client lifecycle: check the interpreter, start `<python> -m codequest serve`,
 * restart it on demand, and report a failure once, in words that say how to fix it.
 */
import * as vscode from 'vscode';
import {
    CloseAction,
    type CloseHandlerResult,
    ErrorAction,
    type ErrorHandler,
    type ErrorHandlerResult,
    LanguageClient,
    type LanguageClientOptions,
    RevealOutputChannelOn,
    type ServerOptions,
} from 'vscode-languageclient/node';
import { errorText } from './errors';
import { INDEX_STATUS_NOTIFICATION, type IndexStatus } from './protocol';
import { type Interpreter, type Preflight, pythonEnv, startFailureMessage } from './python';
import type { ServerState } from './status';

// -- settings ----------------------------------------------------------------------------

/** Settings the client owns; everything else under `codequest.` goes to the server. */
export const CLIENT_ONLY_SETTINGS: ReadonlySet<string> = new Set(['interpreter', 'trace.server']);

interface PackageJson {
    contributes?: { configuration?: { properties?: Record<string, unknown> } };
}

/** The server-relevant setting names (camelCase, without `codequest.`), from package.json. */
export function serverSettingKeys(packageJson: unknown): string[] {
    const properties = (packageJson as PackageJson | undefined)?.contributes?.configuration?.properties ?? {};
    return Object.keys(properties)
        .filter((key) => key.startsWith('codequest.'))
        .map((key) => key.slice('codequest.'.length))
        .filter((key) => !CLIENT_ONLY_SETTINGS.has(key));
}

/** `initializationOptions`: the effective value of every server setting, by camelCase key. */
export function readServerSettings(config: { get(key: string): unknown }, keys: readonly string[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of keys) {
        const value = config.get(key);
        if (value !== undefined) {
            out[key] = value;
        }
    }
    return out;
}

/**
 * Whether a configuration change needs a new server process: the interpreter or any server
 * setting changed. (`codequest.trace.server` is applied live by the language client.)
 */
export function needsRestart(event: vscode.ConfigurationChangeEvent, serverKeys: readonly string[]): boolean {
    return ['interpreter', ...serverKeys].some((key) => event.affectsConfiguration(`codequest.${key}`));
}

// -- client ------------------------------------------------------------------------------

/** What ServerManager needs from a LanguageClient (a fake in tests). */
export interface ClientLike {
    start(): Promise<void>;
    stop(timeout?: number): Promise<void>;
    isRunning(): boolean;
    sendRequest<R>(method: string, param: unknown, token?: vscode.CancellationToken): Promise<R>;
    onNotification(method: string, handler: (params: IndexStatus) => void): vscode.Disposable;
}

export interface ClientSpec {
    command: string[];
    cwd: string | undefined;
    settings: Record<string, unknown>;
    log: vscode.LogOutputChannel;
    errorHandler: ErrorHandler;
    /** Restricted Mode: the server gets `settings` (user values only) and nothing else. */
    restricted: boolean;
}

/** A LanguageClient that reports failures through us: its own pop-ups are turned off. */
class QuietLanguageClient extends LanguageClient {
    override error(message: string, data?: unknown): void {
        super.error(message, data, false);
    }
}

export function createLanguageClient(spec: ClientSpec): ClientLike {
    const [command, ...args] = spec.command;
    const serverOptions: ServerOptions = {
        command,
        args: [...args, '-m', 'codequest', 'serve'],
        options: { cwd: spec.cwd, env: pythonEnv() },
    };
    const clientOptions: LanguageClientOptions = {
        // Files on disk only: lets the server see opens and saves; it does no per-document work.
        documentSelector: [{ scheme: 'file' }],
        // In Restricted Mode nothing is pushed, and a pull of the `codequest` section (the one
        // the server asks for) gets the user-level settings it started with: a change of a
        // server setting restarts the server anyway (needsRestart).
        ...(spec.restricted
            ? {
                  middleware: {
                      workspace: {
                          configuration: (params: { items: { section?: string }[] }) =>
                              params.items.map((item) => (item.section === 'codequest' ? spec.settings : null)),
                      },
                  },
              }
            : { synchronize: { configurationSection: 'codequest' } }),
        initializationOptions: spec.settings,
        outputChannel: spec.log,
        traceOutputChannel: spec.log,
        revealOutputChannelOn: RevealOutputChannelOn.Never,
        errorHandler: spec.errorHandler,
        initializationFailedHandler: (err) => {
            spec.log.error(`server initialization failed: ${errorText(err)}`);
            return false;
        },
    };
    return new QuietLanguageClient('codequest', 'CodeQuest', serverOptions, clientOptions);
}

// -- lifecycle ---------------------------------------------------------------------------

export interface ServerDeps {
    log: vscode.LogOutputChannel;
    /** Whether the workspace is trusted (`vscode.workspace.isTrusted`). */
    trusted(): boolean;
    interpreter(): Promise<Interpreter>;
    preflight(command: string[], cwd: string | undefined): Promise<Preflight>;
    settings(): Record<string, unknown>;
    cwd(): string | undefined;
    createClient(spec: ClientSpec): ClientLike;
    /** Show a failure to the user (once per failed start). */
    reportFailure(message: string): void;
}

export class ServerNotRunningError extends Error {}

const RESTART_WINDOW_MS = 3 * 60_000;
const MAX_RESTARTS = 3;

export class ServerManager implements vscode.Disposable {
    private client: ClientLike | undefined;
    private running = false;
    private stopping = false;
    private disposed = false;
    private queue: Promise<void> = Promise.resolve();
    private crashes: number[] = [];
    private current: { state: ServerState; failure?: string } = { state: 'stopped' };
    private readonly stateEmitter = new vscode.EventEmitter<{ state: ServerState; failure?: string }>();
    private readonly indexEmitter = new vscode.EventEmitter<IndexStatus>();

    readonly onDidChangeState = this.stateEmitter.event;
    readonly onIndexStatus = this.indexEmitter.event;

    constructor(private readonly deps: ServerDeps) {}

    get state(): ServerState {
        return this.current.state;
    }

    get failure(): string | undefined {
        return this.current.failure;
    }

    start(): Promise<void> {
        return this.enqueue(() => this.doStart());
    }

    restart(): Promise<void> {
        return this.enqueue(async () => {
            await this.doStop();
            this.crashes = [];
            await this.doStart();
        });
    }

    stop(): Promise<void> {
        return this.enqueue(() => this.doStop());
    }

    dispose(): void {
        this.disposed = true;
        void this.stop();
        this.stateEmitter.dispose();
        this.indexEmitter.dispose();
    }

    /** Sends a request once a pending start has finished; fails when the server is not running. */
    async request<R>(method: string, params: unknown, token?: vscode.CancellationToken): Promise<R> {
        await this.queue;
        const client = this.client;
        if (!client || !this.running) {
            throw new ServerNotRunningError(this.current.failure ?? 'CodeQuest: the server is not running.');
        }
        // vscode-jsonrpc takes a trailing `undefined` for a second parameter and would send
        // the params as an array ([params, null]): pass a token only when there is one.
        return token ? client.sendRequest<R>(method, params, token) : client.sendRequest<R>(method, params);
    }

    /** Runs a server command (`workspace/executeCommand`). */
    executeCommand<R>(command: string, ...args: unknown[]): Promise<R> {
        return this.request<R>('workspace/executeCommand', { command, arguments: args });
    }

    /** Starts and stops run one at a time, in order; the queue itself never rejects. */
    private enqueue(step: () => Promise<void>): Promise<void> {
        const run = this.queue.then(step);
        this.queue = run.catch((err: unknown) => this.deps.log.error(`server lifecycle: ${errorText(err)}`));
        return run;
    }

    private async doStart(): Promise<void> {
        this.setState('starting');
        const interpreter = await this.deps.interpreter();
        const cwd = this.deps.cwd();
        this.deps.log.info(`Python interpreter (${interpreter.source}): ${interpreter.command.join(' ')}`);
        const check = await this.deps.preflight(interpreter.command, cwd);
        if (!check.ok) {
            this.fail(startFailureMessage(interpreter, check));
            return;
        }
        if (this.disposed) {
            return;
        }
        const settings = this.deps.settings();
        const restricted = !this.deps.trusted();
        this.deps.log.info(
            `starting ${[...interpreter.command, '-m', 'codequest', 'serve'].join(' ')}` +
                (restricted ? ` in ${cwd ?? 'the current folder'} (Restricted Mode)` : ''),
        );
        this.deps.log.info(`initializationOptions: ${JSON.stringify(settings)}`);
        const client = this.deps.createClient({
            command: interpreter.command,
            cwd,
            settings,
            log: this.deps.log,
            errorHandler: this.errorHandler(),
            restricted,
        });
        client.onNotification(INDEX_STATUS_NOTIFICATION, (status) => this.indexEmitter.fire(status));
        this.client = client;
        this.stopping = false;
        try {
            await client.start();
        } catch (err) {
            this.client = undefined;
            this.fail(
                `CodeQuest: the server (${interpreter.command.join(' ')} -m codequest serve) failed to start: ` +
                    `${errorText(err)}. See the CodeQuest output for its log.`,
            );
            return;
        }
        this.running = true;
        this.setState('running');
    }

    private async doStop(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        this.running = false;
        if (client) {
            this.stopping = true;
            try {
                if (client.isRunning()) {
                    await client.stop();
                }
            } catch (err) {
                this.deps.log.warn(`stopping the server: ${errorText(err)}`);
            }
        }
        if (this.current.state !== 'failed') {
            this.setState('stopped');
        }
    }

    private errorHandler(): ErrorHandler {
        return {
            error: (_error, _message, count): ErrorHandlerResult => ({
                action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
                handled: true,
            }),
            closed: (): CloseHandlerResult => {
                if (this.stopping || !this.running) {
                    // A deliberate stop, or a failure during start that start() reports.
                    return { action: CloseAction.DoNotRestart, handled: true };
                }
                const now = Date.now();
                this.crashes = this.crashes.filter((t) => now - t < RESTART_WINDOW_MS);
                this.crashes.push(now);
                if (this.crashes.length <= MAX_RESTARTS) {
                    this.deps.log.warn(`the server exited unexpectedly; restarting (${this.crashes.length}/${MAX_RESTARTS})`);
                    return { action: CloseAction.Restart, handled: true };
                }
                this.running = false;
                this.client = undefined;
                this.fail(
                    `CodeQuest: the server stopped unexpectedly ${this.crashes.length} times in 3 minutes and will not be ` +
                        'restarted. See the CodeQuest output, then run "CodeQuest: Restart Server".',
                );
                return { action: CloseAction.DoNotRestart, handled: true };
            },
        };
    }

    private fail(message: string): void {
        this.deps.log.error(message);
        if (!this.disposed) {
            this.setState('failed', message);
            this.deps.reportFailure(message);
        }
    }

    private setState(state: ServerState, failure?: string): void {
        this.current = { state, failure };
        this.stateEmitter.fire(this.current);
    }
}

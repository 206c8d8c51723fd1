import * as fs from 'node:fs';
import type * as vscode from 'vscode';
import type { ErrorHandler, LanguageClientOptions } from 'vscode-languageclient/node';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { IndexStatus } from '../src/protocol';
import type { Preflight } from '../src/python';
import {
    type ClientLike,
    type ClientSpec,
    createLanguageClient,
    needsRestart,
    readServerSettings,
    ServerManager,
    ServerNotRunningError,
    serverSettingKeys,
} from '../src/server';
import { CancellationTokenSource, stub, window } from './vscode';

// The real language client needs a real VS Code; record what it is constructed with.
const constructed: unknown[][] = [];
vi.mock('vscode-languageclient/node', () => ({
    CloseAction: { DoNotRestart: 1, Restart: 2 },
    ErrorAction: { Continue: 1, Shutdown: 2 },
    RevealOutputChannelOn: { Never: 4 },
    LanguageClient: class {
        constructor(...args: unknown[]) {
            constructed.push(args);
        }
        error(): void {}
    },
}));

const packageJson = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, { default: unknown }> } };
};

class FakeClient implements ClientLike {
    running = false;
    handlers = new Map<string, (p: IndexStatus) => void>();
    requests: [string, unknown][] = [];
    argCounts: number[] = [];
    constructor(private readonly startError?: Error) {}
    start = vi.fn(() => {
        if (this.startError) {
            return Promise.reject(this.startError);
        }
        this.running = true;
        return Promise.resolve();
    });
    stop = vi.fn(() => {
        this.running = false;
        return Promise.resolve();
    });
    isRunning = () => this.running;
    sendRequest<R>(method: string, param: unknown, ...rest: unknown[]): Promise<R> {
        this.requests.push([method, param]);
        this.argCounts.push(2 + rest.length);
        return Promise.resolve({ method } as R);
    }
    onNotification(method: string, handler: (p: IndexStatus) => void) {
        this.handlers.set(method, handler);
        return { dispose: () => undefined };
    }
}

function manager(options: { preflight?: Preflight; startError?: Error; trusted?: boolean } = {}) {
    const clients: FakeClient[] = [];
    const specs: ClientSpec[] = [];
    const failures: string[] = [];
    const server = new ServerManager({
        log: window.createOutputChannel('test'),
        trusted: () => options.trusted ?? true,
        interpreter: () => Promise.resolve({ command: ['/usr/bin/python3'], source: 'setting' }),
        preflight: () => Promise.resolve(options.preflight ?? { ok: true }),
        settings: () => ({ model: 'hashing', maxResults: 20 }),
        cwd: () => '/ws',
        createClient: (spec) => {
            specs.push(spec);
            const client = new FakeClient(options.startError);
            clients.push(client);
            return client;
        },
        reportFailure: (message) => void failures.push(message),
    });
    const states: string[] = [];
    server.onDidChangeState(({ state }) => void states.push(state));
    return { server, clients, specs, failures, states };
}

beforeEach(() => {
    stub.reset();
    constructed.length = 0;
});

describe('settings', () => {
    it('sends every codequest.* setting but the client-only ones', () => {
        const keys = serverSettingKeys(packageJson);
        expect(keys).toContain('model');
        expect(keys).toContain('maxResults');
        expect(keys).toContain('cacheDir');
        expect(keys).not.toContain('interpreter');
        expect(keys).not.toContain('trace.server');
        expect(keys.every((k) => /^[a-z][A-Za-z]*$/.test(k))).toBe(true);
    });

    it('reads the effective values by camelCase key', () => {
        stub.config.set('codequest.model', 'hashing');
        stub.config.set('codequest.exclude', ['dist/**']);
        const config = {
            get: (key: string) =>
                stub.config.get(`codequest.${key}`) ?? packageJson.contributes.configuration.properties[`codequest.${key}`]?.default,
        };
        const settings = readServerSettings(config, serverSettingKeys(packageJson));
        expect(settings).toMatchObject({ model: 'hashing', exclude: ['dist/**'], maxResults: 20, device: 'auto' });
        expect(settings).not.toHaveProperty('interpreter');
    });

    it('restarts for server settings and the interpreter, not for tracing', () => {
        const keys = serverSettingKeys(packageJson);
        const event = (...changed: string[]) =>
            ({
                affectsConfiguration: (section: string) =>
                    changed.some((c) => c === section || c.startsWith(`${section}.`)),
            }) satisfies vscode.ConfigurationChangeEvent;
        expect(needsRestart(event('codequest.model'), keys)).toBe(true);
        expect(needsRestart(event('codequest.interpreter'), keys)).toBe(true);
        expect(needsRestart(event('codequest.trace.server'), keys)).toBe(false);
        expect(needsRestart(event('editor.fontSize'), keys)).toBe(false);
    });
});

describe('createLanguageClient', () => {
    const log = window.createOutputChannel('x') as unknown as vscode.LogOutputChannel;
    const spec = (restricted: boolean): ClientSpec => ({
        command: ['/venv/bin/python', '-X', 'utf8'],
        cwd: '/ws',
        settings: { model: 'hashing' },
        log,
        errorHandler: {} as ErrorHandler,
        restricted,
    });
    type Constructed = [string, string, Record<string, unknown>, LanguageClientOptions];

    it('runs `<python> -m codequest serve` and syncs the codequest section', () => {
        createLanguageClient(spec(false));
        const [id, name, serverOptions, clientOptions] = constructed[0] as Constructed;
        expect([id, name]).toEqual(['codequest', 'CodeQuest']);
        expect(serverOptions).toMatchObject({
            command: '/venv/bin/python',
            args: ['-X', 'utf8', '-m', 'codequest', 'serve'],
            options: { cwd: '/ws', env: { PYTHONSAFEPATH: '1', PYTHONUNBUFFERED: '1' } },
        });
        expect(clientOptions).toMatchObject({
            synchronize: { configurationSection: 'codequest' },
            initializationOptions: { model: 'hashing' },
            outputChannel: log,
        });
        expect(clientOptions.middleware).toBeUndefined();
    });

    it('in Restricted Mode pushes no settings and answers pulls with the filtered ones', () => {
        createLanguageClient(spec(true));
        const clientOptions = (constructed[0] as Constructed)[3];
        expect(clientOptions.synchronize).toBeUndefined();
        expect(clientOptions.initializationOptions).toEqual({ model: 'hashing' });
        const pull = clientOptions.middleware?.workspace?.configuration as unknown as (params: {
            items: { section?: string }[];
        }) => unknown[];
        expect(pull({ items: [{ section: 'codequest' }, { section: 'python' }] })).toEqual([{ model: 'hashing' }, null]);
    });
});

describe('ServerManager', () => {
    it('starts the client with the settings as initializationOptions', async () => {
        const { server, clients, specs, states } = manager();
        await server.start();
        expect(specs[0]).toMatchObject({
            command: ['/usr/bin/python3'],
            cwd: '/ws',
            settings: { model: 'hashing' },
            restricted: false,
        });
        expect(clients[0].start).toHaveBeenCalledOnce();
        expect(states).toEqual(['starting', 'running']);
        expect(server.state).toBe('running');
    });

    it('starts a restricted client in an untrusted workspace', async () => {
        const { server, specs } = manager({ trusted: false });
        await server.start();
        expect(specs[0].restricted).toBe(true);
    });

    it('shows one message and starts nothing when the pre-flight fails', async () => {
        const { server, clients, failures } = manager({
            preflight: { ok: false, reason: 'no-module', detail: 'No module named codequest' },
        });
        await server.start();
        expect(clients).toHaveLength(0);
        expect(failures).toEqual([
            'CodeQuest: could not start the server with /usr/bin/python3: No module named codequest. ' +
                'Install it from a clone of the CodeQuest repository with `/usr/bin/python3 -m pip install <clone>` ' +
                '(or a wheel built from it: `/usr/bin/python3 -m pip install codequest-<version>-py3-none-any.whl`), ' +
                'or set codequest.interpreter to `<clone>/.venv/bin/python` after running `scripts/setup.sh` there.',
        ]);
        expect(server.state).toBe('failed');
        await expect(server.request('codequest/search', { query: 'x' })).rejects.toThrow(ServerNotRunningError);
        await expect(server.request('codequest/search', { query: 'x' })).rejects.toThrow(/No module named codequest/);
        expect(failures).toHaveLength(1);
    });

    it('shows one message when the client fails to start', async () => {
        const { server, failures } = manager({ startError: new Error('connection closed') });
        await server.start();
        expect(failures).toHaveLength(1);
        expect(failures[0]).toMatch(/failed to start: connection closed/);
        expect(server.state).toBe('failed');
    });

    it('forwards requests, server commands and index notifications', async () => {
        const { server, clients } = manager();
        const seen: IndexStatus[] = [];
        server.onIndexStatus((s) => void seen.push(s));
        await server.start();
        await server.request('codequest/search', { query: 'q' });
        await server.executeCommand('codequest.reindex');
        expect(clients[0].requests).toEqual([
            ['codequest/search', { query: 'q' }],
            ['workspace/executeCommand', { command: 'codequest.reindex', arguments: [] }],
        ]);
        // No trailing undefined token: vscode-jsonrpc would turn the params into [params, null].
        expect(clients[0].argCounts).toEqual([2, 2]);
        const source = new CancellationTokenSource();
        await server.request('codequest/search', { query: 'q' }, source.token);
        expect(clients[0].argCounts.at(-1)).toBe(3);
        const status: IndexStatus = { state: 'indexing', indexedFiles: 1, totalFiles: 2, percent: 50 };
        clients[0].handlers.get('codequest/indexStatus')!(status);
        expect(seen).toEqual([status]);
    });

    it('waits for a pending start before sending a request', async () => {
        const { server, clients } = manager();
        const started = server.start();
        const reply = server.request('codequest/search', { query: 'early' });
        await started;
        await expect(reply).resolves.toEqual({ method: 'codequest/search' });
        expect(clients[0].requests).toHaveLength(1);
    });

    it('restart() stops the old client and starts a new one', async () => {
        const { server, clients } = manager();
        await server.start();
        await server.restart();
        expect(clients).toHaveLength(2);
        expect(clients[0].stop).toHaveBeenCalledOnce();
        expect(clients[1].start).toHaveBeenCalledOnce();
        expect(server.state).toBe('running');
    });

    it('restarts a crashed server a few times, then gives up with one message', async () => {
        const { server, specs, failures } = manager();
        await server.start();
        const handler = specs[0].errorHandler;
        for (let i = 0; i < 3; i++) {
            expect(await handler.closed()).toEqual({ action: 2, handled: true });
        }
        expect(await handler.closed()).toEqual({ action: 1, handled: true });
        expect(failures).toHaveLength(1);
        expect(failures[0]).toMatch(/stopped unexpectedly 4 times/);
        expect(server.state).toBe('failed');
    });

    it('does not restart a server it stopped on purpose', async () => {
        const { server, specs, failures } = manager();
        await server.start();
        await server.stop();
        expect(await specs[0].errorHandler.closed()).toEqual({ action: 1, handled: true });
        expect(failures).toHaveLength(0);
        expect(server.state).toBe('stopped');
    });
});

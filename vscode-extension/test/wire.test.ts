/**
 * The LSP wire test: starts the real server (`$CODEQUEST_PYTHON -m codequest serve`, default
 * `python3`) over stdio and speaks to it with vscode-jsonrpc the way the extension does:
 * initializationOptions, workspace/didChangeConfiguration, codequest/search,
 * codequest/indexStatus and workspace/executeCommand. Set CODEQUEST_SKIP_WIRE=1 to skip it.
 *
 *   CODEQUEST_PYTHON=../.venv/bin/python npm run test:wire
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
    CancellationTokenSource,
    createMessageConnection,
    type MessageConnection,
    StreamMessageReader,
    StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import {
    INDEX_STATUS_NOTIFICATION,
    type IndexStatus,
    type LspRange,
    SEARCH_REQUEST,
    type SearchParams,
    type SearchResponse,
    SERVER_REINDEX,
    SERVER_STATUS,
    type StatusReply,
} from '../src/protocol';

const PYTHON = process.env.CODEQUEST_PYTHON || 'python3';
const SKIP = process.env.CODEQUEST_SKIP_WIRE === '1';
const READY_TIMEOUT_MS = 120_000;

// A small project; the tests look for functions in it by name and know their lines.
const PROJECT: Record<string, string> = {
    'geometry/shapes.py': [
        '"""Plane geometry helpers."""',
        '',
        '',
        'def compute_triangle_area(base, height):',
        '    """Area of a triangle from its base and height."""',
        '    return 0.5 * base * height',
        '',
        '',
        'def circle_circumference(radius):',
        '    return 2 * 3.14159 * radius',
        '',
    ].join('\n'),
    'text/words.py': [
        'def reverse_words(sentence):',
        '    """Reverse the order of the words in a sentence."""',
        '    return " ".join(reversed(sentence.split()))',
        '',
    ].join('\n'),
    'net/fetch.js': [
        'export async function fetchWithRetry(url, attempts) {',
        '  for (let i = 0; i < attempts; i++) {',
        '    try {',
        '      return await fetch(url);',
        '    } catch (err) {',
        '      await new Promise((resolve) => setTimeout(resolve, 2 ** i * 100));',
        '    }',
        '  }',
        "  throw new Error('gave up');",
        '}',
        '',
    ].join('\n'),
};

/** The LSP range of the lines from `first` to `last` (texts as they appear) in `file`. */
function rangeOf(file: string, first: string, last: string): LspRange {
    const lines = PROJECT[file].split('\n');
    const start = lines.findIndex((l) => l.startsWith(first));
    const end = lines.findIndex((l, i) => i >= start && l.startsWith(last));
    return { start: { line: start, character: 0 }, end: { line: end, character: lines[end].length } };
}

describe.skipIf(SKIP)(`LSP wire: ${PYTHON} -m codequest serve`, () => {
    let tmp: string;
    let root: string;
    let settings: Record<string, unknown>;
    let server: ChildProcessWithoutNullStreams;
    let connection: MessageConnection;
    let initializeResult: { capabilities?: { executeCommandProvider?: { commands?: string[] } } };
    const stderr: string[] = [];
    const logs: string[] = [];
    const statuses: IndexStatus[] = [];

    const rootUri = () => pathToFileURL(root).href;
    const uriOf = (file: string) => pathToFileURL(path.join(root, file)).href;
    const diagnostics = () =>
        `\n--- last index status: ${JSON.stringify(statuses.at(-1))}` +
        `\n--- server log:\n${logs.slice(-20).join('\n')}` +
        `\n--- server stderr:\n${stderr.join('').slice(-4000)}`;

    const search = (query: string, source?: CancellationTokenSource) => {
        const params: SearchParams = { query };
        // Never pass an undefined token: vscode-jsonrpc would send [params, null].
        return source
            ? connection.sendRequest<SearchResponse>(SEARCH_REQUEST, params, source.token)
            : connection.sendRequest<SearchResponse>(SEARCH_REQUEST, params);
    };
    const command = <R>(name: string, ...args: unknown[]) =>
        connection.sendRequest<R>('workspace/executeCommand', { command: name, arguments: args });

    /**
     * Resolves when the index is ready: from a `codequest/indexStatus` notification, or by
     * polling `codequest.status` (a failing status command is reported by its own test).
     */
    async function waitReady(): Promise<void> {
        const deadline = Date.now() + READY_TIMEOUT_MS;
        let statusError = '';
        while (Date.now() < deadline) {
            const last = statuses.at(-1);
            if (last?.state === 'error') {
                throw new Error(`indexing failed: ${last.message ?? ''}${diagnostics()}`);
            }
            if (last?.state === 'ready') {
                return;
            }
            try {
                const reply = await command<StatusReply>(SERVER_STATUS);
                if (reply.folders.length > 0 && reply.folders.every((f) => f.state === 'ready')) {
                    return;
                }
            } catch (err) {
                statusError = `\n--- ${SERVER_STATUS} failed: ${err instanceof Error ? err.message : String(err)}`;
            }
            if (server.exitCode !== null) {
                throw new Error(`the server exited with ${server.exitCode}${statusError}${diagnostics()}`);
            }
            await new Promise((r) => setTimeout(r, 250));
        }
        throw new Error(`the index was not ready after ${READY_TIMEOUT_MS / 1000} s${statusError}${diagnostics()}`);
    }

    async function withTimeout<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no reply to ${what} after ${ms / 1000} s${diagnostics()}`)), ms);
        });
        try {
            return await Promise.race([promise, timeout]);
        } finally {
            clearTimeout(timer);
        }
    }

    beforeAll(async () => {
        tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'codequest-wire-')));
        root = path.join(tmp, 'project');
        for (const [file, text] of Object.entries(PROJECT)) {
            fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
            fs.writeFileSync(path.join(root, file), text);
        }
        settings = { model: 'hashing', cacheDir: path.join(tmp, 'cache') };

        server = spawn(PYTHON, ['-m', 'codequest', 'serve'], {
            cwd: root,
            env: { ...process.env, CODEQUEST_HOME: path.join(tmp, 'home'), HF_HUB_OFFLINE: '1' },
        });
        const spawned = new Promise<void>((resolve, reject) => {
            server.once('spawn', resolve);
            server.once('error', (err) => reject(new Error(`could not run ${PYTHON}: ${err.message}`)));
        });
        server.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
        await spawned;

        connection = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
        // What a client must answer; vscode-languageclient does the same.
        connection.onRequest('window/workDoneProgress/create', () => null);
        connection.onRequest('client/registerCapability', () => null);
        connection.onRequest('client/unregisterCapability', () => null);
        connection.onRequest('window/showMessageRequest', () => null);
        connection.onRequest('workspace/workspaceFolders', () => [{ uri: rootUri(), name: 'project' }]);
        connection.onRequest('workspace/configuration', (params: { items: { section?: string }[] }) =>
            params.items.map((item) => (item.section === 'codequest' ? settings : null)),
        );
        connection.onNotification('window/logMessage', (p: { message: string }) => void logs.push(p.message));
        connection.onNotification('window/showMessage', (p: { message: string }) => void logs.push(`[shown] ${p.message}`));
        connection.onNotification(INDEX_STATUS_NOTIFICATION, (s: IndexStatus) => void statuses.push(s));
        connection.listen();

        initializeResult = await withTimeout(30_000, 'initialize', connection.sendRequest('initialize', {
            processId: process.pid,
            clientInfo: { name: 'codequest-wire-test' },
            rootUri: rootUri(),
            workspaceFolders: [{ uri: rootUri(), name: 'project' }],
            capabilities: {
                workspace: { workspaceFolders: true, configuration: true, didChangeConfiguration: { dynamicRegistration: true } },
                window: { workDoneProgress: true },
            },
            initializationOptions: settings,
        }));
        await connection.sendNotification('initialized', {});
        // vscode-languageclient sends the synchronized section right after initializing.
        await connection.sendNotification('workspace/didChangeConfiguration', { settings: { codequest: settings } });
    }, 60_000);

    afterAll(async () => {
        if (connection) {
            try {
                await Promise.race([connection.sendRequest('shutdown'), new Promise((r) => setTimeout(r, 5000))]);
                await connection.sendNotification('exit');
            } catch {
                // The server may be gone already; it is killed below.
            }
            connection.dispose();
        }
        if (server && server.exitCode === null) {
            const exited = new Promise((r) => server.once('exit', r));
            const killer = setTimeout(() => server.kill('SIGKILL'), 5000);
            await exited;
            clearTimeout(killer);
        }
        if (tmp) {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    });

    it('offers the server commands, whose ids the palette does not use', () => {
        const commands = initializeResult.capabilities?.executeCommandProvider?.commands ?? [];
        expect(commands).toEqual(expect.arrayContaining([SERVER_REINDEX, SERVER_STATUS]));
    });

    it('indexes the workspace folder and reports it ready', async () => {
        await waitReady();
        const reply = await command<StatusReply>(SERVER_STATUS);
        expect(reply.folders).toHaveLength(1);
        const [folder] = reply.folders;
        expect(fileURLToPath(folder.uri)).toBe(root);
        expect(folder.state).toBe('ready');
        expect(folder.model).toMatch(/^hashing/); // the model's identity, e.g. "hashing-256-0"
        expect(folder.indexedFiles).toBe(Object.keys(PROJECT).length);
        expect(folder.chunks).toBeGreaterThanOrEqual(Object.keys(PROJECT).length); // one a small file
        expect(fs.existsSync(path.join(tmp, 'cache'))).toBe(true);
    });

    it('finds a function by what it does, first, at its exact range', async () => {
        await waitReady();
        const response = await search('compute triangle area');
        expect(response.index.state, diagnostics()).toBe('ready');
        expect(response.results.length).toBeGreaterThan(0);
        const [first] = response.results;
        expect(fileURLToPath(first.uri)).toBe(fileURLToPath(uriOf('geometry/shapes.py')));
        // Small definitions share a chunk: the range holds the function, and the cursor
        // goes to its line.
        const expected = rangeOf('geometry/shapes.py', 'def compute_triangle_area', '    return 0.5');
        expect(first.range.start.line).toBeLessThanOrEqual(expected.start.line);
        expect(first.range.end.line).toBeGreaterThanOrEqual(expected.end.line);
        expect(first.selectionRange?.start).toEqual(expected.start);
        expect(first.name).toContain('compute_triangle_area');
        expect(first.kind).toBe('function');
        expect(first.language).toBe('python');
        expect(first.preview).toContain('def compute_triangle_area');
    });

    it('ranks other files first for other queries', async () => {
        await waitReady();
        const words = await search('reverse the words of a sentence');
        expect(fileURLToPath(words.results[0].uri)).toBe(fileURLToPath(uriOf('text/words.py')));
        expect(words.results[0].range).toEqual(rangeOf('text/words.py', 'def reverse_words', '    return'));
        expect(words.results[0].selectionRange?.start).toEqual({ line: 0, character: 0 });
        const retry = await search('fetch with retry');
        expect(fileURLToPath(retry.results[0].uri)).toBe(fileURLToPath(uriOf('net/fetch.js')));
    });

    it('keeps serving when a search is cancelled, as the picker does while you type', async () => {
        await waitReady();
        const stale = new CancellationTokenSource();
        // The outcome is taken at once: a rejection that arrives while the newer search is
        // awaited must not count as unhandled.
        const older = search('circle circumference', stale).then(
            (r) => ({ answered: true as const, r }),
            (err: { code?: number }) => ({ answered: false as const, err }),
        );
        stale.cancel();
        const newer = await search('compute triangle area');
        expect(newer.results[0].name).toContain('compute_triangle_area');
        // The cancelled request either still answers or fails with RequestCancelled.
        const outcome = await older;
        if (outcome.answered) {
            expect(Array.isArray(outcome.r.results)).toBe(true);
        } else {
            expect(outcome.err.code).toBe(-32800);
        }
    });

    it('re-indexes on codequest.reindex and gets ready again', async () => {
        await waitReady();
        fs.writeFileSync(
            path.join(root, 'text/slug.py'),
            'def slugify_title(title):\n    return "-".join(title.lower().split())\n',
        );
        const seen = statuses.length;
        await command(SERVER_REINDEX);
        const deadline = Date.now() + READY_TIMEOUT_MS;
        const done = () => statuses.slice(seen).some((s) => s.state === 'ready' && s.indexedFiles === Object.keys(PROJECT).length + 1);
        while (!done() && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 100));
        }
        expect(done(), `a ready indexStatus after the re-index${diagnostics()}`).toBe(true);
        const response = await search('slugify title');
        expect(fileURLToPath(response.results[0].uri), diagnostics()).toBe(fileURLToPath(uriOf('text/slug.py')));
    });
});

import type * as vscode from 'vscode';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IndexStatus, SearchResponse } from '../src/protocol';
import {
    Debouncer,
    LatestOnly,
    pickerTitle,
    previewLine,
    SearchSession,
    similarQuery,
    STALE,
    toItem,
    toItems,
    toRange,
} from '../src/search';
import { result } from './fixtures';
import { Position, Selection, stub } from './vscode';

const READY: IndexStatus = { state: 'ready', indexedFiles: 3, totalFiles: 3, percent: 100 };

function deferred<T>() {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
    });
    return { promise, resolve, reject };
}

function listener() {
    return {
        results: vi.fn<(q: string, r: SearchResponse) => void>(),
        error: vi.fn<(q: string, e: unknown) => void>(),
        busy: vi.fn<(b: boolean) => void>(),
        clear: vi.fn<() => void>(),
    };
}

beforeEach(() => {
    stub.reset();
    vi.useFakeTimers();
});
afterEach(() => {
    vi.useRealTimers();
});

describe('Debouncer', () => {
    it('runs only the last function scheduled within the delay', () => {
        const d = new Debouncer(150);
        const fn = vi.fn<(query: string) => void>();
        d.schedule(() => fn('a'));
        vi.advanceTimersByTime(100);
        d.schedule(() => fn('ab'));
        vi.advanceTimersByTime(149);
        expect(fn).not.toHaveBeenCalled();
        vi.advanceTimersByTime(1);
        expect(fn).toHaveBeenCalledExactlyOnceWith('ab');
    });

    it('cancel() drops the pending function', () => {
        const d = new Debouncer(10);
        const fn = vi.fn();
        d.schedule(fn);
        d.cancel();
        vi.advanceTimersByTime(50);
        expect(fn).not.toHaveBeenCalled();
    });
});

describe('LatestOnly', () => {
    it('returns STALE for a reply that is overtaken, and cancels its token', async () => {
        const latest = new LatestOnly();
        const first = deferred<string>();
        const second = deferred<string>();
        let firstToken: vscode.CancellationToken | undefined;
        const a = latest.run((token) => {
            firstToken = token;
            return first.promise;
        });
        const b = latest.run(() => second.promise);
        expect(firstToken?.isCancellationRequested).toBe(true);
        second.resolve('new');
        first.resolve('old');
        expect(await b).toBe('new');
        expect(await a).toBe(STALE);
    });

    it('swallows the error of a stale request but not of the newest', async () => {
        const latest = new LatestOnly();
        const first = deferred<string>();
        const a = latest.run(() => first.promise);
        const b = latest.run(() => Promise.reject(new Error('boom')));
        first.reject(new Error('cancelled'));
        expect(await a).toBe(STALE);
        await expect(b).rejects.toThrow('boom');
    });
});

describe('SearchSession', () => {
    it('debounces typing into one request for the final query', async () => {
        const search = vi.fn(() => Promise.resolve<SearchResponse>({ results: [result()], index: READY }));
        const l = listener();
        const session = new SearchSession(search, l, 150);
        session.update('p');
        vi.advanceTimersByTime(50);
        session.update('pa');
        vi.advanceTimersByTime(50);
        session.update('parse args');
        expect(search).not.toHaveBeenCalled();
        await vi.advanceTimersByTimeAsync(150);
        expect(search).toHaveBeenCalledTimes(1);
        expect(search.mock.calls[0]).toEqual(['parse args', expect.anything()]);
        expect(l.results).toHaveBeenCalledExactlyOnceWith('parse args', { results: [result()], index: READY });
    });

    it('drops a late reply to an older query', async () => {
        const replies = new Map([
            ['old', deferred<SearchResponse>()],
            ['new', deferred<SearchResponse>()],
        ]);
        const tokens = new Map<string, vscode.CancellationToken>();
        const search = vi.fn((q: string, token: vscode.CancellationToken) => {
            tokens.set(q, token);
            return replies.get(q)!.promise;
        });
        const l = listener();
        const session = new SearchSession(search, l, 150);
        session.update('old');
        await vi.advanceTimersByTimeAsync(150);
        session.update('new');
        await vi.advanceTimersByTimeAsync(150);
        expect(tokens.get('old')?.isCancellationRequested).toBe(true);
        expect(tokens.get('new')?.isCancellationRequested).toBe(false);

        replies.get('new')!.resolve({ results: [result({ name: 'fresh' })], index: READY });
        await vi.advanceTimersByTimeAsync(0);
        replies.get('old')!.resolve({ results: [result({ name: 'late' })], index: READY });
        await vi.advanceTimersByTimeAsync(0);

        expect(l.results).toHaveBeenCalledTimes(1);
        expect(l.results.mock.calls[0][1].results[0].name).toBe('fresh');
        expect(l.error).not.toHaveBeenCalled();
    });

    it('clears on an empty query and drops the reply still in flight', async () => {
        const reply = deferred<SearchResponse>();
        const l = listener();
        const session = new SearchSession(() => reply.promise, l, 150);
        session.update('something');
        await vi.advanceTimersByTimeAsync(150);
        session.update('   ');
        expect(l.clear).toHaveBeenCalledTimes(1);
        reply.resolve({ results: [result()], index: READY });
        await vi.advanceTimersByTimeAsync(0);
        expect(l.results).not.toHaveBeenCalled();
    });

    it('reports the error of the newest query', async () => {
        const l = listener();
        const session = new SearchSession(() => Promise.reject(new Error('server gone')), l, 150);
        session.update('q', true);
        await vi.advanceTimersByTimeAsync(0);
        expect(l.error).toHaveBeenCalledExactlyOnceWith('q', new Error('server gone'));
        expect(l.busy).toHaveBeenLastCalledWith(false);
    });

    it('immediate updates skip the debounce (Find Similar)', () => {
        const search = vi.fn(() => Promise.resolve<SearchResponse>({ results: [], index: READY }));
        const session = new SearchSession(search, listener(), 150);
        session.update('def foo(): pass', true);
        expect(search).toHaveBeenCalledTimes(1);
    });
});

describe('items', () => {
    it('maps an LSP range (0-based) to a vscode.Range', () => {
        const range = toRange({ start: { line: 4, character: 0 }, end: { line: 9, character: 17 } });
        expect([range.start.line, range.start.character, range.end.line, range.end.character]).toEqual([4, 0, 9, 17]);
    });

    it('shows symbol and kind, relative path with 1-based line, and a one-line preview', () => {
        const item = toItem(result());
        expect(item.label).toBe('$(symbol-method) Parser.parse_args');
        expect(item.description).toBe('src/cli/args.py:42');
        expect(item.detail).toBe('def parse_args(self, argv):');
        expect(item.alwaysShow).toBe(true);
        expect(item.uri.toString()).toBe('file:///ws/src/cli/args.py');
        expect(item.range.start.line).toBe(41);
        expect(item.range.end.character).toBe(20);
    });

    it('puts the cursor on the definition the server names (selectionRange), else the start', () => {
        expect(toItem(result()).selection.line).toBe(41);
        const item = toItem(
            result({ selectionRange: { start: { line: 47, character: 0 }, end: { line: 47, character: 0 } } }),
        );
        expect(item.selection.line).toBe(47);
        expect(item.range.start.line).toBe(41);
        expect(item.description).toBe('src/cli/args.py:48');
    });

    it('uses the relative path of the workspace folder the file is in', () => {
        stub.workspaceRoot = '/home/me/project';
        expect(toItem(result({ uri: 'file:///home/me/project/a%20b/x.go' })).description).toBe('a b/x.go:42');
    });

    it.each([
        ['function', 'symbol-function'],
        ['class', 'symbol-class'],
        ['struct', 'symbol-struct'],
        ['window', 'file-code'],
        ['something-new', 'symbol-misc'],
    ])('kind %s gets the codicon %s', (kind, icon) => {
        expect(toItem(result({ kind })).label.startsWith(`$(${icon}) `)).toBe(true);
    });

    it('names a window chunk after its file', () => {
        expect(toItem(result({ kind: 'window', name: '' })).label).toBe('$(file-code) args.py');
    });

    it('shortens long previews', () => {
        expect(previewLine('x'.repeat(300), 10)).toBe(`${'x'.repeat(9)}…`);
        expect(previewLine('  a \t  b  ')).toBe('a b');
        expect(previewLine('')).toBe('');
    });

    it('drops results that cover the origin of Find Similar', () => {
        const here = result({ range: { start: { line: 10, character: 0 }, end: { line: 20, character: 0 } } });
        const other = result({ uri: 'file:///ws/other.py' });
        const items = toItems([here, other], { uri: 'file:///ws/src/cli/args.py', line: 12 });
        expect(items.map((i) => i.uri.toString())).toEqual(['file:///ws/other.py']);
        expect(toItems([here, other], { uri: 'file:///ws/src/cli/args.py', line: 25 })).toHaveLength(2);
    });
});

describe('pickerTitle', () => {
    it('says results are partial while indexing, with the percentage', () => {
        const index: IndexStatus = { state: 'indexing', indexedFiles: 42, totalFiles: 100, percent: 42.7 };
        expect(pickerTitle('CodeQuest: Semantic Search', index)).toBe(
            'CodeQuest: Semantic Search — Indexing 42% — results are partial',
        );
    });

    it('computes the percentage from file counts when it is missing', () => {
        const index = { state: 'indexing', indexedFiles: 1, totalFiles: 4 } as IndexStatus;
        expect(pickerTitle('T', index)).toBe('T — Indexing 25% — results are partial');
    });

    it('is the plain title when the index is ready or unknown', () => {
        expect(pickerTitle('T', READY)).toBe('T');
        expect(pickerTitle('T', undefined)).toBe('T');
        expect(pickerTitle('T', { ...READY, state: 'error', message: 'disk full' })).toBe('T — index error: disk full');
    });
});

describe('similarQuery', () => {
    const doc = (lines: string[]) => ({
        lineCount: lines.length,
        lineAt: (i: number) => ({ text: lines[i] }),
        getText: (range?: vscode.Range) =>
            range ? lines.slice(range.start.line, range.end.line + 1).join('\n') : lines.join('\n'),
    });
    const at = (line: number, endLine = line, endChar = 0) =>
        new Selection(new Position(line, 0), new Position(endLine, endChar)) as unknown as vscode.Selection;

    it('uses the selection, whitespace collapsed', () => {
        expect(similarQuery(doc(['def f(x):', '    return   x + 1']), at(0, 1, 18))).toBe('def f(x): return x + 1');
    });

    it('grows an empty selection to neighbouring lines until it says enough', () => {
        const lines = ['import os', '', 'def walk(root):', '    for d in os.listdir(root):', '        yield d', ''];
        const q = similarQuery(doc(lines), at(2));
        expect(q).toContain('def walk(root):');
        expect(q).toContain('os.listdir');
        expect(q.length).toBeGreaterThanOrEqual(40);
    });

    it('keeps a long current line on its own', () => {
        const long = 'total = sum(price * quantity for price, quantity in basket.items())';
        expect(similarQuery(doc(['a = 1', long, 'b = 2']), at(1))).toBe(long);
    });
});

import type * as vscode from 'vscode';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type PickerDeps, showSearchPicker } from '../src/picker';
import type { IndexStatus, SearchResponse } from '../src/protocol';
import type { SearchItem } from '../src/search';
import { result } from './fixtures';
import { EventEmitter, type FakeQuickPick, stub, TextEditorRevealType, window } from './vscode';

const INDEXING: IndexStatus = { state: 'indexing', indexedFiles: 42, totalFiles: 100, percent: 42 };
const READY: IndexStatus = { state: 'ready', indexedFiles: 100, totalFiles: 100, percent: 100 };

function setup(reply: SearchResponse = { results: [result(), result({ uri: 'file:///ws/b.py', name: 'b' })], index: READY }) {
    const indexEvents = new EventEmitter<IndexStatus>();
    const search = vi.fn((_q: string, _t: vscode.CancellationToken) => Promise.resolve(reply));
    const deps: PickerDeps = {
        search,
        index: () => INDEXING,
        onIndexStatus: indexEvents.event,
        log: window.createOutputChannel('test'),
        debounceMs: 150,
    };
    return { deps, search, indexEvents };
}

const lastPick = () => stub.quickPicks.at(-1) as FakeQuickPick<SearchItem>;

beforeEach(() => {
    stub.reset();
    vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe('search QuickPick', () => {
    it('searches as you type (debounced) and lists the results', async () => {
        const { deps, search } = setup();
        showSearchPicker(deps, { title: 'CodeQuest: Semantic Search' });
        const pick = lastPick();
        expect(pick.visible).toBe(true);
        expect(pick.matchOnDescription).toBe(false);
        pick.type('parse');
        pick.type('parse args');
        await vi.advanceTimersByTimeAsync(150);
        expect(search).toHaveBeenCalledTimes(1);
        expect(search.mock.calls[0][0]).toBe('parse args');
        expect(pick.items.map((i) => i.label)).toEqual(['$(symbol-method) Parser.parse_args', '$(symbol-method) b']);
        expect(pick.busy).toBe(false);
    });

    it('says results are partial while indexing, and follows index notifications', () => {
        const { deps, indexEvents } = setup({ results: [], index: INDEXING });
        showSearchPicker(deps, { title: 'CodeQuest: Semantic Search' });
        const pick = lastPick();
        expect(pick.title).toBe('CodeQuest: Semantic Search — Indexing 42% — results are partial');
        indexEvents.fire({ ...INDEXING, percent: 77 });
        expect(pick.title).toBe('CodeQuest: Semantic Search — Indexing 77% — results are partial');
        indexEvents.fire(READY);
        expect(pick.title).toBe('CodeQuest: Semantic Search');
    });

    it('previews the active item without taking focus', async () => {
        const { deps } = setup();
        showSearchPicker(deps, { title: 'T' });
        const pick = lastPick();
        pick.type('parse args');
        await vi.advanceTimersByTimeAsync(150);
        pick.setActive(pick.items[1]);
        expect(stub.shown).toHaveLength(1);
        const [shown] = stub.shown;
        expect((shown.target as vscode.Uri).toString()).toBe('file:///ws/b.py');
        expect(shown.options).toMatchObject({ preview: true, preserveFocus: true, selection: pick.items[1].range });
    });

    it('opens the accepted item and reveals its range in the centre', async () => {
        const { deps } = setup();
        showSearchPicker(deps, { title: 'T' });
        const pick = lastPick();
        pick.type('parse args');
        await vi.advanceTimersByTimeAsync(150);
        const item = pick.items[0];
        pick.choose(item);
        await vi.advanceTimersByTimeAsync(0);
        expect(pick.visible).toBe(false);
        expect(pick.disposed).toBe(true);
        const opened = stub.shown.at(-1)!;
        expect((opened.target as vscode.Uri).toString()).toBe('file:///ws/src/cli/args.py');
        expect(opened.options).toMatchObject({ preview: false });
        expect((opened.options!.selection as vscode.Selection).start.line).toBe(item.selection.line);
        expect(opened.revealed).toEqual([{ range: item.range, type: TextEditorRevealType.InCenter }]);
    });

    it('starts from a given value at once, and leaves out the origin (Find Similar)', async () => {
        const { deps, search } = setup();
        showSearchPicker(deps, {
            title: 'CodeQuest: Find Similar Code',
            value: 'def parse_args(self, argv):',
            origin: { uri: 'file:///ws/src/cli/args.py', line: 45 },
        });
        const pick = lastPick();
        expect(pick.value).toBe('def parse_args(self, argv):');
        expect(search).toHaveBeenCalledTimes(1);
        await vi.advanceTimersByTimeAsync(0);
        expect(pick.items.map((i) => i.uri.toString())).toEqual(['file:///ws/b.py']);
        await vi.advanceTimersByTimeAsync(1000);
        expect(search).toHaveBeenCalledTimes(1);
    });

    it('goes back to the previous editor when cancelled after a preview', async () => {
        const before = { document: { uri: 'doc' }, viewColumn: 1, selection: 'sel' };
        stub.activeTextEditor = before;
        const { deps } = setup();
        showSearchPicker(deps, { title: 'T' });
        const pick = lastPick();
        pick.type('parse');
        await vi.advanceTimersByTimeAsync(150);
        pick.setActive(pick.items[0]);
        pick.hide();
        expect(stub.shown.at(-1)).toMatchObject({ target: before.document, options: { viewColumn: 1, selection: 'sel' } });
    });

    it('shows a failed search in the title', async () => {
        const { deps } = setup();
        deps.search = () => Promise.reject(new Error('server crashed'));
        showSearchPicker(deps, { title: 'T' });
        const pick = lastPick();
        pick.type('x');
        await vi.advanceTimersByTimeAsync(150);
        expect(pick.title).toBe('T — search failed: server crashed');
        expect(pick.items).toEqual([]);
    });
});

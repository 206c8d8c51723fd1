/**
 * Search logic without UI: debouncing, latest-reply-wins, and mapping server results to
 * QuickPick items. The QuickPick itself lives in picker.ts.
 */
import * as vscode from 'vscode';
import type { IndexStatus, LspRange, SearchResponse, SearchResult } from './protocol';

export const SEARCH_DEBOUNCE_MS = 150;

/** Runs only the last function scheduled within `delayMs`. */
export class Debouncer {
    private timer: ReturnType<typeof setTimeout> | undefined;

    constructor(private readonly delayMs: number) {}

    schedule(fn: () => void): void {
        this.cancel();
        this.timer = setTimeout(() => {
            this.timer = undefined;
            fn();
        }, this.delayMs);
    }

    cancel(): void {
        if (this.timer !== undefined) {
            clearTimeout(this.timer);
            this.timer = undefined;
        }
    }
}

export const STALE = Symbol('stale');

/**
 * Numbers each call and cancels the previous one's token; a reply that is not the newest
 * comes back as STALE, so late replies never overwrite newer results.
 */
export class LatestOnly {
    private seq = 0;
    private source: vscode.CancellationTokenSource | undefined;

    async run<T>(fn: (token: vscode.CancellationToken) => Promise<T>): Promise<T | typeof STALE> {
        this.cancel();
        const mine = ++this.seq;
        const source = new vscode.CancellationTokenSource();
        this.source = source;
        try {
            const value = await fn(source.token);
            return mine === this.seq ? value : STALE;
        } catch (err) {
            if (mine !== this.seq) {
                return STALE;
            }
            throw err;
        } finally {
            if (this.source === source) {
                this.source = undefined;
            }
            source.dispose();
        }
    }

    /** Cancels the request in flight; its reply, if any, becomes STALE. */
    cancel(): void {
        this.seq++;
        this.source?.cancel();
        this.source = undefined;
    }
}

export type SearchFn = (query: string, token: vscode.CancellationToken) => Promise<SearchResponse>;

export interface SearchListener {
    results(query: string, response: SearchResponse): void;
    error(query: string, err: unknown): void;
    busy(busy: boolean): void;
    /** The query became empty: show nothing. */
    clear(): void;
}

/** Searches as the user types: debounced, and only the newest query's reply is shown. */
export class SearchSession {
    private readonly debouncer: Debouncer;
    private readonly latest = new LatestOnly();

    constructor(
        private readonly search: SearchFn,
        private readonly listener: SearchListener,
        delayMs = SEARCH_DEBOUNCE_MS,
    ) {
        this.debouncer = new Debouncer(delayMs);
    }

    update(query: string, immediate = false): void {
        this.debouncer.cancel();
        if (!query.trim()) {
            this.latest.cancel();
            this.listener.busy(false);
            this.listener.clear();
            return;
        }
        if (immediate) {
            void this.fire(query);
        } else {
            this.debouncer.schedule(() => void this.fire(query));
        }
    }

    dispose(): void {
        this.debouncer.cancel();
        this.latest.cancel();
    }

    private async fire(query: string): Promise<void> {
        this.listener.busy(true);
        try {
            const response = await this.latest.run((token) => this.search(query, token));
            if (response === STALE) {
                return;
            }
            this.listener.busy(false);
            this.listener.results(query, response);
        } catch (err) {
            this.listener.busy(false);
            this.listener.error(query, err);
        }
    }
}

// -- items -------------------------------------------------------------------------------

const KIND_ICONS: Record<string, string> = {
    function: 'symbol-function',
    method: 'symbol-method',
    class: 'symbol-class',
    interface: 'symbol-interface',
    struct: 'symbol-struct',
    enum: 'symbol-enum',
    trait: 'symbol-interface',
    type: 'symbol-type-parameter',
    window: 'file-code',
};

export function kindIcon(kind: string): string {
    return KIND_ICONS[kind] ?? 'symbol-misc';
}

export interface SearchItem extends vscode.QuickPickItem {
    readonly uri: vscode.Uri;
    /** The chunk, revealed and highlighted. */
    readonly range: vscode.Range;
    /** Where the cursor goes (the definition's line; the chunk's start without one). */
    readonly selection: vscode.Position;
    readonly result: SearchResult;
}

export function toRange(range: LspRange): vscode.Range {
    return new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
}

/** The first non-blank line of a preview, shortened to `max` characters. */
export function previewLine(preview: string, max = 120): string {
    const line = preview.split(/\r?\n/).find((l) => l.trim()) ?? '';
    const text = line.trim().replace(/\s+/g, ' ');
    return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function toItem(result: SearchResult): SearchItem {
    const uri = vscode.Uri.parse(result.uri);
    const range = toRange(result.range);
    const selection = result.selectionRange ? toRange(result.selectionRange).start : range.start;
    const name = result.name || uri.path.slice(uri.path.lastIndexOf('/') + 1);
    return {
        label: `$(${kindIcon(result.kind)}) ${name}`,
        description: `${vscode.workspace.asRelativePath(uri)}:${selection.line + 1}`,
        detail: previewLine(result.preview),
        // The server ranks; VS Code must not filter our items by their label.
        alwaysShow: true,
        uri,
        range,
        selection,
        result,
    };
}

/** Where the search started from (Find Similar): results covering it are dropped. */
export interface Origin {
    uri: string;
    line: number;
}

export function toItems(results: readonly SearchResult[], origin?: Origin): SearchItem[] {
    const items = results.map(toItem);
    if (!origin) {
        return items;
    }
    return items.filter(
        (item) =>
            item.uri.toString() !== origin.uri ||
            origin.line < item.range.start.line ||
            origin.line > item.range.end.line,
    );
}

/** The QuickPick title: what is searched, and whether the index is complete. */
export function pickerTitle(base: string, index: IndexStatus | undefined): string {
    switch (index?.state) {
        case 'indexing':
            return `${base} — Indexing ${percentOf(index)}% — results are partial`;
        case 'idle':
            return `${base} — index not built yet`;
        case 'error':
            return `${base} — index error${index.message ? `: ${index.message}` : ''}`;
        default:
            return base;
    }
}

export function percentOf(index: IndexStatus): number {
    const raw = Number.isFinite(index.percent)
        ? index.percent
        : index.totalFiles > 0
          ? (100 * index.indexedFiles) / index.totalFiles
          : 0;
    return Math.max(0, Math.min(100, Math.floor(raw)));
}

// -- Find Similar --------------------------------------------------------------------------

export interface TextSource {
    lineCount: number;
    lineAt(line: number): { text: string };
    getText(range?: vscode.Range): string;
}

const SIMILAR_MIN_CHARS = 40;
const SIMILAR_MAX_LINES = 7;
const QUERY_MAX_CHARS = 1000;

/**
 * The query for "Find Similar Code": the selection, or when it is empty the cursor's line
 * grown to neighbouring lines until it says enough. Whitespace collapses to single spaces.
 */
export function similarQuery(doc: TextSource, selection: vscode.Selection): string {
    if (!selection.isEmpty) {
        return collapse(doc.getText(selection));
    }
    const line = selection.active.line;
    let first = line;
    let last = line;
    const text = () => collapse(linesOf(doc, first, last));
    while (text().length < SIMILAR_MIN_CHARS && last - first + 1 < SIMILAR_MAX_LINES) {
        const canUp = first > 0;
        const canDown = last < doc.lineCount - 1;
        if (!canUp && !canDown) {
            break;
        }
        if (canDown) {
            last++;
        }
        if (canUp && text().length < SIMILAR_MIN_CHARS) {
            first--;
        }
    }
    return text();
}

function linesOf(doc: TextSource, first: number, last: number): string {
    const out: string[] = [];
    for (let i = first; i <= last; i++) {
        out.push(doc.lineAt(i).text);
    }
    return out.join('\n');
}

function collapse(text: string): string {
    return text.replace(/\s+/g, ' ').trim().slice(0, QUERY_MAX_CHARS);
}

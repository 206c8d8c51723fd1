/**
 * The CodeQuest language-server protocol as the client sees it (docs/ARCHITECTURE.md,
 * "Language server protocol"). Plain types and method names only: no `vscode` import, so
 * the wire test can use it too.
 */

export const SEARCH_REQUEST = 'codequest/search';
export const INDEX_STATUS_NOTIFICATION = 'codequest/indexStatus';

/** Server commands, run through `workspace/executeCommand`. The palette ids differ. */
export const SERVER_REINDEX = 'codequest.reindex';
export const SERVER_STATUS = 'codequest.status';

export interface LspPosition {
    line: number;
    character: number;
}

/** 0-based lines; start character 0; end is the end of the last line. */
export interface LspRange {
    start: LspPosition;
    end: LspPosition;
}

export type IndexState = 'idle' | 'indexing' | 'ready' | 'error';

export interface IndexStatus {
    state: IndexState;
    indexedFiles: number;
    totalFiles: number;
    percent: number;
    message?: string;
}

export interface SearchFilters {
    glob?: string;
    languages?: string[];
    excludeTests?: boolean;
}

export interface SearchParams {
    query: string;
    limit?: number;
    filters?: SearchFilters;
    workspaceFolder?: string;
    explain?: boolean;
}

export interface SearchResult {
    uri: string;
    /** The chunk. */
    range: LspRange;
    /** Where the cursor goes: the start of the line of the definition the result is named after. */
    selectionRange?: LspRange;
    name: string;
    kind: string;
    language: string;
    score: number;
    preview: string;
    explain?: unknown;
}

export interface SearchResponse {
    results: SearchResult[];
    index: IndexStatus;
}

export interface FolderStatus {
    uri: string;
    state: IndexState;
    indexedFiles: number;
    totalFiles: number;
    chunks: number;
    model: string;
    queryEncoder: string;
}

export interface StatusReply {
    folders: FolderStatus[];
}

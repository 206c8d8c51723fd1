/**
 * The status-bar item (driven by `codequest/indexStatus`) and the text of "Show Index Status".
 */
import * as vscode from 'vscode';
import type { IndexStatus, StatusReply } from './protocol';
import { percentOf } from './search';

export type ServerState = 'starting' | 'running' | 'stopped' | 'failed';

export interface StatusView {
    text: string;
    tooltip: string;
    error: boolean;
}

export function renderStatus(server: ServerState, index: IndexStatus | undefined, failure?: string): StatusView {
    if (server === 'failed') {
        return { text: '$(error) CodeQuest', tooltip: failure ?? 'CodeQuest: the server is not running.', error: true };
    }
    if (server === 'starting') {
        return { text: '$(sync~spin) CodeQuest', tooltip: 'CodeQuest: starting the server…', error: false };
    }
    if (server === 'stopped') {
        return { text: '$(circle-slash) CodeQuest', tooltip: 'CodeQuest: the server is stopped.', error: false };
    }
    switch (index?.state) {
        case 'indexing': {
            const percent = percentOf(index);
            return {
                text: `$(sync~spin) CodeQuest ${percent}%`,
                tooltip: `CodeQuest: indexing ${percent}% (${index.indexedFiles}/${index.totalFiles} files) — results are partial`,
                error: false,
            };
        }
        case 'error':
            return {
                text: '$(error) CodeQuest',
                tooltip: `CodeQuest: indexing failed${index.message ? `: ${index.message}` : ''}`,
                error: true,
            };
        case 'ready':
            return {
                text: '$(search) CodeQuest',
                tooltip: `CodeQuest: index ready (${index.indexedFiles} files). Click for details.`,
                error: false,
            };
        case 'idle':
            return { text: '$(search) CodeQuest', tooltip: 'CodeQuest: the index is not built yet.', error: false };
        default:
            return { text: '$(search) CodeQuest', tooltip: 'CodeQuest: server running.', error: false };
    }
}

/** Keeps one status-bar item in step with the server and index state. */
export class StatusBar implements vscode.Disposable {
    private server: ServerState = 'starting';
    private failure: string | undefined;
    private indexStatus: IndexStatus | undefined;

    constructor(private readonly item: vscode.StatusBarItem) {
        item.name = 'CodeQuest';
        item.command = 'codequest.showStatus';
        this.render();
        item.show();
    }

    get index(): IndexStatus | undefined {
        return this.indexStatus;
    }

    setServer(state: ServerState, failure?: string): void {
        this.server = state;
        this.failure = failure;
        if (state !== 'running') {
            this.indexStatus = undefined;
        }
        this.render();
    }

    setIndex(status: IndexStatus): void {
        this.indexStatus = status;
        this.render();
    }

    dispose(): void {
        this.item.dispose();
    }

    private render(): void {
        const view = renderStatus(this.server, this.indexStatus, this.failure);
        this.item.text = view.text;
        this.item.tooltip = view.tooltip;
        this.item.backgroundColor = view.error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    }
}

/** One line per workspace folder, from the reply to the `codequest.status` server command. */
export function formatStatusReply(reply: StatusReply | null | undefined): string[] {
    const folders = reply?.folders ?? [];
    if (folders.length === 0) {
        return ['no workspace folder is indexed'];
    }
    return folders.map((f) => {
        const name = vscode.workspace.getWorkspaceFolder(vscode.Uri.parse(f.uri))?.name ?? f.uri;
        return (
            `${name}: ${f.state}, ${f.indexedFiles}/${f.totalFiles} files, ${f.chunks} chunks, ` +
            `model ${f.model}, query encoder ${f.queryEncoder}`
        );
    });
}

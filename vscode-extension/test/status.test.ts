import type * as vscode from 'vscode';
import { beforeEach, describe, expect, it } from 'vitest';
import type { IndexStatus } from '../src/protocol';
import { formatStatusReply, renderStatus, StatusBar } from '../src/status';
import { stub, ThemeColor, window } from './vscode';

const indexing: IndexStatus = { state: 'indexing', indexedFiles: 42, totalFiles: 100, percent: 42 };
const ready: IndexStatus = { state: 'ready', indexedFiles: 100, totalFiles: 100, percent: 100 };

beforeEach(() => stub.reset());

describe('renderStatus', () => {
    it('spins with the percentage while indexing', () => {
        const view = renderStatus('running', indexing);
        expect(view.text).toBe('$(sync~spin) CodeQuest 42%');
        expect(view.tooltip).toContain('42/100 files');
        expect(view.tooltip).toContain('results are partial');
    });

    it('shows a search icon when ready', () => {
        expect(renderStatus('running', ready).text).toBe('$(search) CodeQuest');
    });

    it('shows an error with the message as tooltip', () => {
        const view = renderStatus('running', { ...ready, state: 'error', message: 'cannot write .codequest' });
        expect(view).toEqual({
            text: '$(error) CodeQuest',
            tooltip: 'CodeQuest: indexing failed: cannot write .codequest',
            error: true,
        });
    });

    it('shows a server that failed to start as an error, with the failure as tooltip', () => {
        const view = renderStatus('failed', undefined, 'CodeQuest: could not start the server with python3: ...');
        expect(view.text).toBe('$(error) CodeQuest');
        expect(view.tooltip).toBe('CodeQuest: could not start the server with python3: ...');
    });

    it('spins without a percentage while the server starts', () => {
        expect(renderStatus('starting', undefined).text).toBe('$(sync~spin) CodeQuest');
    });
});

describe('StatusBar', () => {
    it('keeps the item in step and opens the status on click', () => {
        const item = window.createStatusBarItem();
        const bar = new StatusBar(item as unknown as vscode.StatusBarItem);
        expect(item.command).toBe('codequest.showStatus');
        expect(item.visible).toBe(true);
        bar.setServer('running');
        bar.setIndex(indexing);
        expect(item.text).toBe('$(sync~spin) CodeQuest 42%');
        expect(bar.index).toEqual(indexing);
        bar.setIndex({ ...ready, state: 'error', message: 'x' });
        expect(item.text).toBe('$(error) CodeQuest');
        expect(item.backgroundColor).toEqual(new ThemeColor('statusBarItem.errorBackground'));
        bar.setServer('failed', 'no python');
        expect(item.tooltip).toBe('no python');
        expect(bar.index).toBeUndefined();
    });
});

describe('formatStatusReply', () => {
    it('writes one line per folder', () => {
        const lines = formatStatusReply({
            folders: [
                {
                    uri: 'file:///ws',
                    state: 'ready',
                    indexedFiles: 10,
                    totalFiles: 12,
                    chunks: 80,
                    model: 'all-MiniLM-L6-v2',
                    queryEncoder: 'auto',
                },
            ],
        });
        expect(lines).toEqual(['ws: ready, 10/12 files, 80 chunks, model all-MiniLM-L6-v2, query encoder auto']);
    });

    it('says so when nothing is indexed', () => {
        expect(formatStatusReply({ folders: [] })).toEqual(['no workspace folder is indexed']);
        expect(formatStatusReply(null)).toEqual(['no workspace folder is indexed']);
    });
});

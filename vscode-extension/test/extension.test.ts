import * as fs from 'node:fs';
import type * as vscode from 'vscode';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { activate } from '../src/extension';
import { SERVER_REINDEX, SERVER_STATUS } from '../src/protocol';
import { stub } from './vscode';

vi.mock('vscode-languageclient/node', () => ({
    CloseAction: { DoNotRestart: 1, Restart: 2 },
    ErrorAction: { Continue: 1, Shutdown: 2 },
    RevealOutputChannelOn: { Never: 4 },
    LanguageClient: class {},
}));

const packageJSON = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    contributes: { commands: { command: string }[]; keybindings: { command: string }[] };
};
const MISSING = '/nonexistent/codequest-test/python';

let context: { subscriptions: { dispose(): unknown }[]; extension: { packageJSON: unknown } };

beforeEach(() => {
    stub.reset();
    stub.config.set('codequest.interpreter', [MISSING]);
    context = { subscriptions: [], extension: { packageJSON } };
    activate(context as unknown as vscode.ExtensionContext);
});
afterEach(() => context.subscriptions.forEach((d) => d.dispose()));

describe('activate', () => {
    it('registers exactly the palette commands of package.json, none of them a server command', async () => {
        const declared = packageJSON.contributes.commands.map((c) => c.command).sort();
        expect([...stub.commands.keys()].sort()).toEqual(declared);
        expect(declared).not.toContain(SERVER_REINDEX);
        expect(declared).not.toContain(SERVER_STATUS);
        for (const binding of packageJSON.contributes.keybindings) {
            expect(declared).toContain(binding.command);
        }
        await vi.waitFor(() => expect(stub.errors).toHaveLength(1)); // let the start attempt finish
    });

    it('shows one clear message and an error status when the interpreter is missing', async () => {
        await vi.waitFor(() => expect(stub.errors).toHaveLength(1));
        expect(stub.errors[0]).toContain(`the Python interpreter ${MISSING} was not found`);
        expect(stub.errors[0]).toContain('codequest.interpreter');
        expect(stub.statusItems[0].text).toBe('$(error) CodeQuest');
        expect(stub.statusItems[0].tooltip).toBe(stub.errors[0]);
        // Searching then repeats the reason instead of opening an empty picker.
        await stub.commands.get('codequest.search')!();
        expect(stub.quickPicks).toHaveLength(0);
        await vi.waitFor(() => expect(stub.errors).toHaveLength(2));
        expect(stub.errors[1]).toBe(stub.errors[0]);
    });

    it('restarts the server when a codequest setting changes', async () => {
        await vi.waitFor(() => expect(stub.errors).toHaveLength(1));
        stub.configurationChanged.fire({ affectsConfiguration: (s: string) => s === 'codequest.model' });
        await vi.waitFor(() => expect(stub.errors).toHaveLength(2), { timeout: 3000 });
        stub.configurationChanged.fire({ affectsConfiguration: (s: string) => s === 'editor.tabSize' });
        await new Promise((r) => setTimeout(r, 700));
        expect(stub.errors).toHaveLength(2);
    });
});

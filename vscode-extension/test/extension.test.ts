import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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

let context: { subscriptions: { dispose(): unknown }[]; extension: { packageJSON: unknown }; extensionPath: string };

function start(extensionPath = '/nonexistent/codequest-extension'): void {
    context = { subscriptions: [], extension: { packageJSON }, extensionPath };
    activate(context as unknown as vscode.ExtensionContext);
}

beforeEach(() => stub.reset());
afterEach(() => context.subscriptions.forEach((d) => d.dispose()));

describe('activate', () => {
    beforeEach(() => {
        stub.config.set('codequest.interpreter', [MISSING]);
        start();
    });

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

describe.skipIf(process.platform === 'win32')('Restricted Mode', () => {
    let dir: string;
    let workspaceRoot: string;
    let extensionPath: string;

    /** A fake Python that records where and how it ran, then says codequest is missing. */
    function fakePython(name: string, folder = dir): { command: string; record: string } {
        const command = path.join(folder, name);
        const record = path.join(dir, `${name}.ran`);
        fs.writeFileSync(
            command,
            `#!/bin/sh\necho "$PWD safepath=$PYTHONSAFEPATH" >> "${record}"\n` +
                `echo "ModuleNotFoundError: No module named 'codequest'" >&2\nexit 1\n`,
            { mode: 0o755 },
        );
        return { command, record };
    }

    beforeEach(() => {
        dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'codequest-trust-')));
        workspaceRoot = path.join(dir, 'repo');
        extensionPath = path.join(dir, 'extension');
        fs.mkdirSync(workspaceRoot);
        fs.mkdirSync(extensionPath);
        stub.workspaceRoot = workspaceRoot;
    });
    afterEach(() => {
        vi.unstubAllEnvs();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("never runs the workspace's interpreter; runs the user's outside the workspace until trust is granted", async () => {
        const fromWorkspace = fakePython('workspace-python'); // what .vscode/settings.json names
        const fromUser = fakePython('user-python');
        stub.workspaceConfig.set('codequest.interpreter', [fromWorkspace.command]);
        stub.config.set('codequest.interpreter', [fromUser.command]);
        stub.trusted = false;
        start(extensionPath);

        await vi.waitFor(() => expect(stub.errors).toHaveLength(1));
        expect(stub.errors[0]).toContain(`with ${fromUser.command}: No module named codequest`);
        expect(fs.existsSync(fromWorkspace.record)).toBe(false);
        // Started in the extension's folder, not the workspace, with the cwd off sys.path.
        expect(fs.readFileSync(fromUser.record, 'utf8')).toBe(`${extensionPath} safepath=1\n`);

        stub.grantTrust();
        await vi.waitFor(() => expect(stub.errors).toHaveLength(2), { timeout: 3000 });
        expect(stub.errors[1]).toContain(`with ${fromWorkspace.command}: No module named codequest`);
        expect(fs.readFileSync(fromWorkspace.record, 'utf8')).toBe(`${workspaceRoot} safepath=1\n`);
    });

    it('falls back to python3 on PATH, not the Python extension, and says why', async () => {
        const bin = path.join(dir, 'bin');
        fs.mkdirSync(bin);
        const python3 = fakePython('python3', bin);
        vi.stubEnv('PATH', bin);
        const activatePython = vi.fn();
        stub.extensions.set('ms-python.python', { isActive: false, exports: undefined, activate: activatePython });
        const fromWorkspace = fakePython('workspace-python');
        stub.workspaceConfig.set('codequest.interpreter', [fromWorkspace.command]);
        stub.trusted = false;
        start(extensionPath);

        await vi.waitFor(() => expect(stub.errors).toHaveLength(1));
        expect(stub.errors[0]).toMatch(/^CodeQuest: could not start the server with python3 \(Restricted Mode: none in your user settings\)/);
        expect(stub.errors[0]).toContain('set codequest.interpreter in your user settings, or trust the workspace.');
        expect(fs.readFileSync(python3.record, 'utf8')).toBe(`${extensionPath} safepath=1\n`);
        expect(fs.existsSync(fromWorkspace.record)).toBe(false);
        expect(activatePython).not.toHaveBeenCalled();
    });
});

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
    type ExecFn,
    getPythonExtensionApi,
    type Interpreter,
    preflight,
    type PythonExtensionApi,
    resolveInterpreter,
    startFailureMessage,
    substitute,
} from '../src/python';
import { stub, Uri, window } from './vscode';

const resource = Uri.file('/ws') as unknown as vscode.Uri;

function envApi(exe: string | undefined): PythonExtensionApi {
    return {
        environments: {
            getActiveEnvironmentPath: () => ({ id: 'venv', path: '/ws/.venv' }),
            resolveEnvironment: () => Promise.resolve(exe ? { executable: { uri: { fsPath: exe } } } : undefined),
        },
        settings: { getExecutionDetails: () => ({ execCommand: ['/from/execution/details'] }) },
    };
}

beforeEach(() => stub.reset());

describe('resolveInterpreter', () => {
    it('prefers codequest.interpreter', async () => {
        const pythonApi = vi.fn(() => Promise.resolve(envApi('/ws/.venv/bin/python')));
        const got = await resolveInterpreter({ setting: ['/opt/py/bin/python', '-X', 'utf8'], pythonApi });
        expect(got).toEqual({ command: ['/opt/py/bin/python', '-X', 'utf8'], source: 'setting' });
        expect(pythonApi).not.toHaveBeenCalled();
    });

    it('accepts a plain string and expands ${workspaceFolder}', async () => {
        const got = await resolveInterpreter({
            setting: '${workspaceFolder}/.venv/bin/python',
            workspaceFolder: '/ws',
            pythonApi: () => Promise.resolve(undefined),
        });
        expect(got.command).toEqual(['/ws/.venv/bin/python']);
    });

    it('then asks the Python extension for its active environment', async () => {
        const got = await resolveInterpreter({
            setting: [],
            resource,
            pythonApi: () => Promise.resolve(envApi('/ws/.venv/bin/python')),
        });
        expect(got).toEqual({ command: ['/ws/.venv/bin/python'], source: 'python extension' });
    });

    it('falls back to settings.getExecutionDetails when the environment does not resolve', async () => {
        const got = await resolveInterpreter({ setting: [''], pythonApi: () => Promise.resolve(envApi(undefined)) });
        expect(got).toEqual({ command: ['/from/execution/details'], source: 'python extension' });
    });

    it('uses the older `environment` API and an unresolvable path as is', async () => {
        const api: PythonExtensionApi = { environment: { getActiveEnvironmentPath: () => ({ path: '/usr/bin/python3.12' }) } };
        const got = await resolveInterpreter({ setting: undefined, pythonApi: () => Promise.resolve(api) });
        expect(got.command).toEqual(['/usr/bin/python3.12']);
    });

    it('ends at python3 without the Python extension, or when its API throws', async () => {
        expect(await resolveInterpreter({ setting: [], pythonApi: () => Promise.resolve(undefined) })).toEqual({
            command: ['python3'],
            source: 'default',
        });
        const broken = await resolveInterpreter({ setting: [], pythonApi: () => Promise.reject(new Error('nope')) });
        expect(broken.command).toEqual(['python3']);
        const empty = await resolveInterpreter({ setting: [], pythonApi: () => Promise.resolve({}) });
        expect(empty.command).toEqual(['python3']);
    });
});

describe('resolveInterpreter in Restricted Mode', () => {
    const pythonApi = () => Promise.resolve(envApi('/ws/.venv/bin/python'));

    it('uses the setting it is given, and never asks the Python extension', async () => {
        const api = vi.fn(pythonApi);
        const got = await resolveInterpreter({ setting: ['/opt/py/bin/python'], pythonApi: api, trusted: false });
        expect(got).toEqual({ command: ['/opt/py/bin/python'], source: 'setting', restricted: true });
        expect(await resolveInterpreter({ setting: [], pythonApi: api, trusted: false })).toEqual({
            command: ['python3'],
            source: 'default',
            restricted: true,
        });
        expect(api).not.toHaveBeenCalled();
    });

    it('does not run a program from the workspace through ${workspaceFolder}', async () => {
        const log = window.createOutputChannel('t');
        const got = await resolveInterpreter({
            setting: ['${workspaceFolder}/.venv/bin/python'],
            workspaceFolder: '/ws',
            pythonApi,
            log,
            trusted: false,
        });
        expect(got).toEqual({ command: ['python3'], source: 'default', restricted: true });
        expect(log.lines.join('\n')).toMatch(/Restricted Mode: not using codequest.interpreter, which names \$\{workspaceFolder\}/);
        const trusted = await resolveInterpreter({ setting: ['${workspaceFolder}/.venv/bin/python'], workspaceFolder: '/ws', pythonApi });
        expect(trusted.command).toEqual(['/ws/.venv/bin/python']);
    });
});

describe('getPythonExtensionApi', () => {
    it('is undefined when ms-python.python is not installed', async () => {
        expect(await getPythonExtensionApi()).toBeUndefined();
    });

    it('activates the extension and returns its exports', async () => {
        const api = envApi('/p');
        const activate = vi.fn(() => Promise.resolve(api));
        stub.extensions.set('ms-python.python', { isActive: false, exports: undefined, activate });
        expect(await getPythonExtensionApi()).toBe(api);
        expect(activate).toHaveBeenCalledOnce();
    });
});

describe('substitute', () => {
    it('expands ~, ${userHome} and ${env:NAME}', () => {
        process.env.CODEQUEST_TEST_VAR = 'v';
        expect(substitute('~/py', undefined)).toBe(path.join(os.homedir(), 'py'));
        expect(substitute('${userHome}/x/${env:CODEQUEST_TEST_VAR}', undefined)).toBe(`${os.homedir()}/x/v`);
    });
});

describe('preflight', () => {
    const failing =
        (error: Partial<NodeJS.ErrnoException & { stderr: string; killed: boolean }>): ExecFn =>
        () =>
            Promise.reject(Object.assign(new Error(error.message ?? 'Command failed'), error));

    it('passes when `import codequest` works', async () => {
        const exec = vi.fn<ExecFn>(() => Promise.resolve({ stdout: '', stderr: '' }));
        expect(await preflight(['/py', '-I'], '/ws', exec)).toEqual({ ok: true });
        expect(exec).toHaveBeenCalledWith('/py', ['-I', '-c', 'import codequest'], expect.objectContaining({ cwd: '/ws' }));
        // The working folder stays off sys.path (Python 3.11+), as for the server.
        expect(exec.mock.calls[0][2].env).toMatchObject({ PYTHONSAFEPATH: '1' });
    });

    it('tells a missing interpreter from a missing package', async () => {
        expect(await preflight(['nope'], undefined, failing({ code: 'ENOENT' }))).toMatchObject({ reason: 'not-found' });
        const stderr = "Traceback (most recent call last):\n  File \"<string>\", line 1\nModuleNotFoundError: No module named 'codequest'\n";
        expect(await preflight(['python3'], undefined, failing({ stderr }))).toEqual({
            ok: false,
            reason: 'no-module',
            detail: 'No module named codequest',
        });
    });

    it('reports another import error by its last line, and a timeout', async () => {
        const stderr = "Traceback...\nModuleNotFoundError: No module named 'msgpack'\n";
        expect(await preflight(['python3'], undefined, failing({ stderr }))).toEqual({
            ok: false,
            reason: 'other',
            detail: "ModuleNotFoundError: No module named 'msgpack'",
        });
        expect(await preflight(['python3'], undefined, failing({ killed: true }))).toMatchObject({ reason: 'timeout' });
    });

    it.skipIf(process.platform === 'win32')('runs a real process', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codequest-preflight-'));
        const fake = path.join(dir, 'python');
        fs.writeFileSync(fake, "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'codequest'\" >&2\nexit 1\n", {
            mode: 0o755,
        });
        expect(await preflight([fake])).toMatchObject({ ok: false, reason: 'no-module' });
        expect(await preflight([path.join(dir, 'missing')])).toMatchObject({ ok: false, reason: 'not-found' });
        fs.rmSync(dir, { recursive: true });
    });
});

describe('startFailureMessage', () => {
    const python: Interpreter = { command: ['/usr/bin/python3'], source: 'setting' };

    it('says what is missing and how to install it', () => {
        expect(startFailureMessage(python, { ok: false, reason: 'no-module', detail: 'No module named codequest' })).toBe(
            'CodeQuest: could not start the server with /usr/bin/python3: No module named codequest. ' +
                'Install it from a clone of the CodeQuest repository with `/usr/bin/python3 -m pip install <clone>` ' +
                '(or a wheel built from it: `/usr/bin/python3 -m pip install codequest-<version>-py3-none-any.whl`), ' +
                'or set codequest.interpreter to `<clone>/.venv/bin/python` after running `scripts/setup.sh` there.',
        );
    });

    it('never points at a `codequest` package on PyPI, which does not exist', () => {
        const reasons = ['not-found', 'no-module', 'timeout', 'other'] as const;
        for (const reason of reasons) {
            const msg = startFailureMessage(python, { ok: false, reason, detail: 'x' });
            expect(msg, reason).not.toMatch(/pip install (--upgrade )?codequest(?![-\w])/);
        }
    });

    it('names where the interpreter came from, and quotes paths with spaces', () => {
        const msg = startFailureMessage(
            { command: ['C:\\Program Files\\Python\\python.exe'], source: 'python extension' },
            { ok: false, reason: 'no-module', detail: '' },
        );
        expect(msg).toContain('"C:\\Program Files\\Python\\python.exe" (the Python extension\'s interpreter)');
        expect(msg).toContain('`"C:\\Program Files\\Python\\python.exe" -m pip install <clone>`');
    });

    it('says when Restricted Mode chose the interpreter, and what to do about it', () => {
        const msg = startFailureMessage(
            { command: ['python3'], source: 'default', restricted: true },
            { ok: false, reason: 'no-module', detail: 'No module named codequest' },
        );
        expect(msg).toMatch(/^CodeQuest: could not start the server with python3 \(Restricted Mode: none in your user settings\)/);
        expect(msg).toMatch(/set codequest.interpreter in your user settings, or trust the workspace\.$/);
        const trusted = startFailureMessage({ command: ['python3'], source: 'default' }, { ok: false, reason: 'no-module', detail: '' });
        expect(trusted).not.toContain('Restricted Mode');
    });

    it('says an interpreter was not found', () => {
        const msg = startFailureMessage(
            { command: ['python3'], source: 'default' },
            { ok: false, reason: 'not-found', detail: 'python3 was not found' },
        );
        expect(msg).toMatch(/^CodeQuest: could not start the server: the Python interpreter python3 \(no interpreter configured\) was not found\./);
        expect(msg).toContain('set codequest.interpreter');
    });
});

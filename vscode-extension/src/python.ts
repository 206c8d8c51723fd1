/**
 * Which Python runs the server, and whether it can: `codequest.interpreter`, else the
 * Python extension's active interpreter, else `python3`; then a quick
 * `python -c "import codequest"` so a missing package gets one clear message. In Restricted
 * Mode the Python extension is not asked: its interpreter may be a virtual environment
 * inside the untrusted workspace.
 */
import { execFile } from 'node:child_process';
import * as os from 'node:os';
import * as vscode from 'vscode';

export const DEFAULT_PYTHON = 'python3';
const PYTHON_EXTENSION_ID = 'ms-python.python';

/** The parts of the ms-python.python API we use; every member may be missing. */
export interface PythonExtensionApi {
    environments?: PythonEnvironments;
    /** Older releases called it `environment`. */
    environment?: PythonEnvironments;
    settings?: {
        getExecutionDetails?(resource?: vscode.Uri): { execCommand?: string[] } | undefined;
        onDidChangeExecutionDetails?: vscode.Event<unknown>;
    };
}

interface PythonEnvironments {
    getActiveEnvironmentPath?(resource?: vscode.Uri): { id?: string; path?: string } | undefined;
    resolveEnvironment?(
        env: { id?: string; path?: string } | string,
    ): Promise<{ executable?: { uri?: { fsPath: string } } } | undefined>;
    onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
}

export type InterpreterSource = 'setting' | 'python extension' | 'default';

export interface Interpreter {
    command: string[];
    source: InterpreterSource;
    /** Chosen in Restricted Mode, where only the user's own setting and `python3` count. */
    restricted?: boolean;
}

export interface ResolveOptions {
    /** The `codequest.interpreter` setting: an array of strings (a string is accepted too). */
    setting: unknown;
    resource?: vscode.Uri;
    workspaceFolder?: string;
    pythonApi: () => Promise<PythonExtensionApi | undefined>;
    log?: vscode.LogOutputChannel;
    /** Whether the workspace is trusted; true when left out. */
    trusted?: boolean;
}

export async function resolveInterpreter(options: ResolveOptions): Promise<Interpreter> {
    const trusted = options.trusted ?? true;
    const mark = trusted ? {} : { restricted: true };
    if (!trusted && JSON.stringify(options.setting ?? null).includes('${workspaceFolder}')) {
        // A user-wide `${workspaceFolder}/.venv/bin/python` would run the untrusted workspace's program.
        options.log?.warn('Restricted Mode: not using codequest.interpreter, which names ${workspaceFolder}');
    } else {
        const fromSetting = settingCommand(options.setting, options.workspaceFolder);
        if (fromSetting.length > 0) {
            return { command: fromSetting, source: 'setting', ...mark };
        }
    }
    if (!trusted) {
        return { command: [DEFAULT_PYTHON], source: 'default', ...mark };
    }
    try {
        const api = await options.pythonApi();
        const fromExtension = api ? await pythonExtensionCommand(api, options.resource) : undefined;
        if (fromExtension && fromExtension.length > 0) {
            return { command: fromExtension, source: 'python extension' };
        }
    } catch (err) {
        options.log?.warn(`could not ask the Python extension for an interpreter: ${String(err)}`);
    }
    return { command: [DEFAULT_PYTHON], source: 'default' };
}

function settingCommand(setting: unknown, workspaceFolder: string | undefined): string[] {
    const parts = typeof setting === 'string' ? [setting] : Array.isArray(setting) ? setting : [];
    return parts
        .filter((p): p is string => typeof p === 'string' && p.trim() !== '')
        .map((p) => substitute(p.trim(), workspaceFolder));
}

/** Expands `~`, `${userHome}`, `${workspaceFolder}` and `${env:NAME}`, as VS Code settings do. */
export function substitute(value: string, workspaceFolder: string | undefined): string {
    const home = os.homedir();
    let out = value.replace(/^~(?=$|[\\/])/, home);
    out = out.replace(/\$\{userHome\}/g, home);
    if (workspaceFolder !== undefined) {
        out = out.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
    }
    return out.replace(/\$\{env:([^}]+)\}/g, (_m, name: string) => process.env[name] ?? '');
}

async function pythonExtensionCommand(api: PythonExtensionApi, resource?: vscode.Uri): Promise<string[] | undefined> {
    const envs = api.environments ?? api.environment;
    const active = envs?.getActiveEnvironmentPath?.(resource);
    if (active?.path) {
        const resolved = envs?.resolveEnvironment ? await envs.resolveEnvironment(active) : undefined;
        const exe = resolved?.executable?.uri?.fsPath;
        if (exe) {
            return [exe];
        }
        if (!envs?.resolveEnvironment) {
            return [active.path];
        }
    }
    const exec = api.settings?.getExecutionDetails?.(resource)?.execCommand;
    return exec?.filter((p) => typeof p === 'string' && p !== '');
}

/** The Python extension's API when it is installed, activating it if needed. */
export async function getPythonExtensionApi(): Promise<PythonExtensionApi | undefined> {
    const extension = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
    if (!extension) {
        return undefined;
    }
    return extension.isActive ? extension.exports : await extension.activate();
}

// -- pre-flight --------------------------------------------------------------------------

export type Preflight =
    | { ok: true }
    | { ok: false; reason: 'not-found' | 'no-module' | 'timeout' | 'other'; detail: string };

export type ExecFn = (
    file: string,
    args: string[],
    options: { timeout: number; cwd?: string; env?: NodeJS.ProcessEnv },
) => Promise<{ stdout: string; stderr: string }>;

/**
 * The environment of the pre-flight and the server. `PYTHONSAFEPATH` (Python 3.11+) keeps
 * the working folder off `sys.path`, so a workspace's own `codequest/` or `numpy.py` is never
 * imported instead of the installed package.
 */
export function pythonEnv(): NodeJS.ProcessEnv {
    return { ...process.env, PYTHONSAFEPATH: '1', PYTHONUNBUFFERED: '1' };
}

const execFilePromise: ExecFn = (file, args, options) =>
    new Promise((resolve, reject) => {
        execFile(file, args, { ...options, windowsHide: true }, (error, stdout, stderr) => {
            if (error) {
                const failure: Error = Object.assign(error, { stdout, stderr });
                reject(failure);
            } else {
                resolve({ stdout, stderr });
            }
        });
    });

export const PREFLIGHT_TIMEOUT_MS = 30_000;

/** Runs `<python> -c "import codequest"` and classifies what went wrong. */
export async function preflight(command: string[], cwd?: string, exec: ExecFn = execFilePromise): Promise<Preflight> {
    const [file, ...args] = command;
    try {
        await exec(file, [...args, '-c', 'import codequest'], { timeout: PREFLIGHT_TIMEOUT_MS, cwd, env: pythonEnv() });
        return { ok: true };
    } catch (err) {
        const e = err as NodeJS.ErrnoException & { stderr?: string; killed?: boolean; signal?: string };
        if (e.code === 'ENOENT') {
            return { ok: false, reason: 'not-found', detail: `${file} was not found` };
        }
        if (e.killed || e.signal === 'SIGTERM') {
            return { ok: false, reason: 'timeout', detail: `\`import codequest\` took longer than ${PREFLIGHT_TIMEOUT_MS / 1000} s` };
        }
        const stderr = (e.stderr ?? '').trim();
        const last = stderr.split(/\r?\n/).filter((l) => l.trim()).pop() ?? e.message;
        const missing = /No module named '?([\w.]+)'?/.exec(last);
        if (missing && missing[1].split('.')[0] === 'codequest') {
            return { ok: false, reason: 'no-module', detail: 'No module named codequest' };
        }
        return { ok: false, reason: 'other', detail: last };
    }
}

/**
 * The one message a user sees when the server cannot start, saying what to do about it.
 * The Python package is not on PyPI: it installs from a clone of the repository
 * (`pip install <clone>`, or `scripts/setup.sh`, which makes `<clone>/.venv`), or from a
 * wheel built from one.
 */
export function startFailureMessage(interpreter: Interpreter, result: Exclude<Preflight, { ok: true }>): string {
    const shown = interpreter.command.map(quote).join(' ');
    const where =
        interpreter.source === 'python extension'
            ? ' (the Python extension\'s interpreter)'
            : interpreter.source === 'default'
              ? interpreter.restricted
                  ? ' (Restricted Mode: none in your user settings)'
                  : ' (no interpreter configured)'
              : '';
    const restricted = interpreter.restricted
        ? ' Restricted Mode ignores the workspace\'s codequest.interpreter and the Python extension\'s interpreter: ' +
          'set codequest.interpreter in your user settings, or trust the workspace.'
        : '';
    switch (result.reason) {
        case 'not-found':
            return (
                `CodeQuest: could not start the server: the Python interpreter ${shown}${where} was not found. ` +
                'Install Python 3.10+, then CodeQuest from a clone of its repository (`scripts/setup.sh` there makes ' +
                '`<clone>/.venv`), and set codequest.interpreter to that Python or select it with the Python extension.' +
                restricted
            );
        case 'no-module':
            return (
                `CodeQuest: could not start the server with ${shown}${where}: No module named codequest. ` +
                `Install it from a clone of the CodeQuest repository with \`${shown} -m pip install <clone>\` ` +
                `(or a wheel built from it: \`${shown} -m pip install codequest-<version>-py3-none-any.whl\`), ` +
                'or set codequest.interpreter to `<clone>/.venv/bin/python` after running `scripts/setup.sh` there.' +
                restricted
            );
        case 'timeout':
            return `CodeQuest: could not start the server with ${shown}${where}: ${result.detail}. See the CodeQuest output.`;
        default:
            return (
                `CodeQuest: could not start the server with ${shown}${where}: ${result.detail}. ` +
                `Reinstall it from your CodeQuest clone with \`${shown} -m pip install --upgrade <clone>\` ` +
                'or set codequest.interpreter.'
            );
    }
}

function quote(part: string): string {
    return /\s/.test(part) ? `"${part}"` : part;
}

/**
 * A small stand-in for the `vscode` module, enough for the unit tests (vitest aliases
 * `vscode` to this file). `stub` holds what the code under test did, and `stub.reset()`
 * clears it between tests.
 */
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Listener<T> = (e: T) => unknown;

export class Disposable {
    constructor(private readonly fn: () => void = () => undefined) {}
    static from(...items: { dispose(): unknown }[]): Disposable {
        return new Disposable(() => items.forEach((d) => d.dispose()));
    }
    dispose(): void {
        this.fn();
    }
}

export class EventEmitter<T> {
    private listeners: Listener<T>[] = [];
    readonly event = (listener: Listener<T>): Disposable => {
        this.listeners.push(listener);
        return new Disposable(() => {
            this.listeners = this.listeners.filter((l) => l !== listener);
        });
    };
    fire(value: T): void {
        [...this.listeners].forEach((l) => l(value));
    }
    dispose(): void {
        this.listeners = [];
    }
}

export class CancellationTokenSource {
    private readonly emitter = new EventEmitter<void>();
    readonly token = {
        isCancellationRequested: false,
        onCancellationRequested: this.emitter.event,
    };
    cancel(): void {
        if (!this.token.isCancellationRequested) {
            this.token.isCancellationRequested = true;
            this.emitter.fire();
        }
    }
    dispose(): void {
        this.emitter.dispose();
    }
}

export class Uri {
    private constructor(
        readonly scheme: string,
        readonly path: string,
        private readonly raw: string,
    ) {}
    static parse(value: string): Uri {
        const scheme = value.slice(0, value.indexOf(':'));
        const p = scheme === 'file' ? new URL(value).pathname : value.slice(scheme.length + 1);
        return new Uri(scheme, decodeURIComponent(p), scheme === 'file' ? pathToFileURL(fileURLToPath(value)).href : value);
    }
    static file(fsPath: string): Uri {
        return Uri.parse(pathToFileURL(fsPath).href);
    }
    get fsPath(): string {
        return this.scheme === 'file' ? fileURLToPath(this.raw) : this.path;
    }
    toString(): string {
        return this.raw;
    }
}

export class Position {
    constructor(
        readonly line: number,
        readonly character: number,
    ) {}
}

export class Range {
    readonly start: Position;
    readonly end: Position;
    constructor(a: number | Position, b: number | Position, c?: number, d?: number) {
        this.start = typeof a === 'number' ? new Position(a, b as number) : a;
        this.end = typeof a === 'number' ? new Position(c as number, d as number) : (b as Position);
    }
    get isEmpty(): boolean {
        return this.start.line === this.end.line && this.start.character === this.end.character;
    }
}

export class Selection extends Range {
    constructor(
        readonly anchor: Position,
        readonly active: Position,
    ) {
        super(anchor, active);
    }
}

export class ThemeColor {
    constructor(readonly id: string) {}
}

export enum StatusBarAlignment {
    Left = 1,
    Right = 2,
}

export enum TextEditorRevealType {
    Default = 0,
    InCenter = 1,
    InCenterIfOutsideViewport = 2,
    AtTop = 3,
}

export class FakeQuickPick<T> {
    items: T[] = [];
    activeItems: T[] = [];
    selectedItems: T[] = [];
    title: string | undefined;
    placeholder: string | undefined;
    busy = false;
    matchOnDescription = true;
    matchOnDetail = true;
    visible = false;
    disposed = false;
    private _value = '';
    readonly changeValue = new EventEmitter<string>();
    readonly changeActive = new EventEmitter<readonly T[]>();
    readonly accept = new EventEmitter<void>();
    readonly hideEmitter = new EventEmitter<void>();
    readonly onDidChangeValue = this.changeValue.event;
    readonly onDidChangeActive = this.changeActive.event;
    readonly onDidAccept = this.accept.event;
    readonly onDidHide = this.hideEmitter.event;

    get value(): string {
        return this._value;
    }
    set value(v: string) {
        // Like VS Code, setting the value programmatically fires onDidChangeValue.
        if (v !== this._value) {
            this._value = v;
            this.changeValue.fire(v);
        }
    }
    show(): void {
        this.visible = true;
    }
    hide(): void {
        if (this.visible) {
            this.visible = false;
            this.hideEmitter.fire();
        }
    }
    dispose(): void {
        this.disposed = true;
    }
    // -- test helpers
    type(v: string): void {
        this.value = v;
    }
    setActive(item: T): void {
        this.activeItems = [item];
        this.changeActive.fire(this.activeItems);
    }
    choose(item: T): void {
        this.selectedItems = [item];
        this.accept.fire();
    }
}

export interface ShownDocument {
    target: unknown;
    options: Record<string, unknown> | undefined;
    revealed: { range: Range; type: TextEditorRevealType }[];
}

function makeChannel(name: string) {
    const lines: string[] = [];
    const add = (level: string) => (msg: string) => void lines.push(`[${level}] ${msg}`);
    return {
        name,
        lines,
        trace: add('trace'),
        debug: add('debug'),
        info: add('info'),
        warn: add('warn'),
        error: add('error'),
        appendLine: add('line'),
        append: add('append'),
        show: () => undefined,
        hide: () => undefined,
        clear: () => undefined,
        replace: () => undefined,
        dispose: () => undefined,
        logLevel: 2,
        onDidChangeLogLevel: new EventEmitter<number>().event,
    };
}

function makeStatusItem() {
    return {
        name: undefined as string | undefined,
        text: '',
        tooltip: undefined as unknown,
        command: undefined as unknown,
        backgroundColor: undefined as ThemeColor | undefined,
        visible: false,
        show() {
            this.visible = true;
        },
        hide() {
            this.visible = false;
        },
        dispose: () => undefined,
    };
}

const configurationChanged = new EventEmitter<unknown>();
const foldersChanged = new EventEmitter<unknown>();
const trustGranted = new EventEmitter<void>();

export const stub = {
    workspaceRoot: '/ws',
    configurationChanged,
    foldersChanged,
    trustGranted,
    commands: new Map<string, (...args: unknown[]) => unknown>(),
    executed: [] as unknown[][],
    statusItems: [] as ReturnType<typeof makeStatusItem>[],
    /** Settings by full key: the user's (`config`), the workspace's, and the defaults. */
    config: new Map<string, unknown>(),
    workspaceConfig: new Map<string, unknown>(),
    defaults: new Map<string, unknown>(),
    /**
     * `workspace.isTrusted`. Unlike VS Code, `get()` here returns workspace values of
     * restricted settings in an untrusted workspace too: the worst case, for the extension's
     * own filtering to handle.
     */
    trusted: true,
    extensions: new Map<string, unknown>(),
    quickPicks: [] as FakeQuickPick<unknown>[],
    shown: [] as ShownDocument[],
    errors: [] as string[],
    infos: [] as string[],
    activeTextEditor: undefined as unknown,
    reset(): void {
        this.workspaceRoot = '/ws';
        this.trusted = true;
        this.config.clear();
        this.workspaceConfig.clear();
        this.defaults.clear();
        this.extensions.clear();
        this.quickPicks = [];
        this.shown = [];
        this.errors = [];
        this.infos = [];
        this.activeTextEditor = undefined;
        this.commands.clear();
        this.executed = [];
        this.statusItems = [];
        configurationChanged.dispose();
        foldersChanged.dispose();
        trustGranted.dispose();
    },
    /** What granting trust does: the workspace becomes trusted, then the event fires. */
    grantTrust(): void {
        this.trusted = true;
        trustGranted.fire();
    },
};

export const window = {
    get activeTextEditor() {
        return stub.activeTextEditor;
    },
    createQuickPick<T>(): FakeQuickPick<T> {
        const pick = new FakeQuickPick<T>();
        stub.quickPicks.push(pick as FakeQuickPick<unknown>);
        return pick;
    },
    showTextDocument(target: unknown, options?: Record<string, unknown>) {
        const shown: ShownDocument = { target, options, revealed: [] };
        stub.shown.push(shown);
        return Promise.resolve({
            revealRange: (range: Range, type: TextEditorRevealType) => void shown.revealed.push({ range, type }),
        });
    },
    showErrorMessage(message: string) {
        stub.errors.push(message);
        return Promise.resolve(undefined);
    },
    showInformationMessage(message: string) {
        stub.infos.push(message);
        return Promise.resolve(undefined);
    },
    setStatusBarMessage: () => new Disposable(),
    createStatusBarItem: () => {
        const item = makeStatusItem();
        stub.statusItems.push(item);
        return item;
    },
    createOutputChannel: (name: string) => makeChannel(name),
};

export const workspace = {
    get workspaceFolders() {
        return [{ uri: Uri.file(stub.workspaceRoot), name: path.basename(stub.workspaceRoot), index: 0 }];
    },
    asRelativePath(target: Uri | string): string {
        const p = typeof target === 'string' ? target : target.fsPath;
        const rel = path.relative(stub.workspaceRoot, p);
        return rel.startsWith('..') ? p : rel.split(path.sep).join('/');
    },
    getWorkspaceFolder(uri: Uri) {
        const rel = path.relative(stub.workspaceRoot, uri.fsPath);
        return rel.startsWith('..') ? undefined : workspace.workspaceFolders[0];
    },
    get isTrusted() {
        return stub.trusted;
    },
    getConfiguration(section?: string) {
        const prefix = section ? `${section}.` : '';
        const layer = (map: Map<string, unknown>, key: string) => map.get(prefix + key);
        return {
            get: <T>(key: string, fallback?: T): T | undefined =>
                (layer(stub.workspaceConfig, key) ?? layer(stub.config, key) ?? layer(stub.defaults, key) ?? fallback) as
                    | T
                    | undefined,
            inspect: <T>(key: string) => ({
                key: prefix + key,
                defaultValue: layer(stub.defaults, key) as T | undefined,
                globalValue: layer(stub.config, key) as T | undefined,
                workspaceValue: layer(stub.workspaceConfig, key) as T | undefined,
            }),
        };
    },
    onDidChangeConfiguration: configurationChanged.event,
    onDidChangeWorkspaceFolders: foldersChanged.event,
    onDidGrantWorkspaceTrust: trustGranted.event,
};

export const extensions = {
    getExtension(id: string) {
        return stub.extensions.get(id);
    },
};

export const commands = {
    registerCommand(id: string, fn: (...args: unknown[]) => unknown) {
        if (stub.commands.has(id)) {
            throw new Error(`command '${id}' already exists`);
        }
        stub.commands.set(id, fn);
        return new Disposable(() => stub.commands.delete(id));
    },
    executeCommand(id: string, ...args: unknown[]) {
        stub.executed.push([id, ...args]);
        return Promise.resolve(stub.commands.get(id)?.(...args));
    },
};

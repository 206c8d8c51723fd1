/**
 * The search QuickPick: searches as you type, previews the active item without taking
 * focus, opens the accepted one, and says when the index is still being built.
 */
import * as vscode from 'vscode';
import { errorText } from './errors';
import type { IndexStatus } from './protocol';
import { type Origin, pickerTitle, type SearchFn, type SearchItem, SearchSession, toItems } from './search';

export interface PickerDeps {
    search: SearchFn;
    /** The last index status the server reported, if any. */
    index(): IndexStatus | undefined;
    onIndexStatus: vscode.Event<IndexStatus>;
    log: vscode.LogOutputChannel;
    debounceMs?: number;
}

export interface PickerOptions {
    title: string;
    value?: string;
    origin?: Origin;
}

export function showSearchPicker(deps: PickerDeps, options: PickerOptions): vscode.QuickPick<SearchItem> {
    const pick = vscode.window.createQuickPick<SearchItem>();
    pick.title = pickerTitle(options.title, deps.index());
    pick.placeholder = 'Describe the code you are looking for, e.g. "parse command line arguments"';
    pick.matchOnDescription = false;
    pick.matchOnDetail = false;

    const before = vscode.window.activeTextEditor;
    let accepted = false;
    let previewed = false;

    const session = new SearchSession(
        deps.search,
        {
            results: (_query, response) => {
                pick.items = toItems(response.results, options.origin);
                pick.title = pickerTitle(options.title, response.index);
            },
            error: (query, err) => {
                deps.log.error(`search for ${JSON.stringify(query)} failed: ${errorText(err)}`);
                pick.items = [];
                pick.title = `${options.title} — search failed: ${errorText(err)}`;
            },
            busy: (busy) => {
                pick.busy = busy;
            },
            clear: () => {
                pick.items = [];
            },
        },
        deps.debounceMs,
    );

    const preview = (item: SearchItem | undefined) => {
        if (!item || accepted) {
            return;
        }
        previewed = true;
        vscode.window
            .showTextDocument(item.uri, { preview: true, preserveFocus: true, selection: item.range })
            .then(undefined, (err: unknown) => deps.log.warn(`preview of ${item.uri.toString()} failed: ${errorText(err)}`));
    };

    const subscriptions: vscode.Disposable[] = [
        pick.onDidChangeValue((value) => session.update(value)),
        pick.onDidChangeActive((items) => preview(items[0])),
        deps.onIndexStatus((index) => {
            pick.title = pickerTitle(options.title, index);
        }),
        pick.onDidAccept(() => {
            const item = pick.selectedItems[0] ?? pick.activeItems[0];
            if (!item) {
                return;
            }
            accepted = true;
            pick.hide();
            void openItem(item).catch((err: unknown) =>
                deps.log.error(`could not open ${item.uri.toString()}: ${errorText(err)}`),
            );
        }),
        pick.onDidHide(() => {
            session.dispose();
            for (const d of subscriptions) {
                d.dispose();
            }
            pick.dispose();
            if (!accepted && previewed && before) {
                // Cancelled after previewing: go back to where the user was.
                void vscode.window.showTextDocument(before.document, {
                    viewColumn: before.viewColumn,
                    selection: before.selection,
                });
            }
        }),
    ];

    if (options.value) {
        pick.value = options.value;
        session.update(options.value, true);
    }
    pick.show();
    return pick;
}

/** Opens the file with the cursor on the result's definition, its chunk revealed in the centre. */
export async function openItem(item: SearchItem): Promise<vscode.TextEditor> {
    const start = new vscode.Selection(item.selection, item.selection);
    const editor = await vscode.window.showTextDocument(item.uri, { preview: false, selection: start });
    editor.revealRange(item.range, vscode.TextEditorRevealType.InCenter);
    return editor;
}

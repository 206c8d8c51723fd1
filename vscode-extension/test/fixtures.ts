import type { SearchResult } from '../src/protocol';

/** A search result as the server sends it; override what a test cares about. */
export function result(overrides: Partial<SearchResult> = {}): SearchResult {
    return {
        uri: 'file:///ws/src/cli/args.py',
        range: { start: { line: 41, character: 0 }, end: { line: 57, character: 20 } },
        name: 'Parser.parse_args',
        kind: 'method',
        language: 'python',
        score: 0.83,
        preview: '\n    def parse_args(self, argv):\n        """Parse the command line."""\n',
        ...overrides,
    };
}

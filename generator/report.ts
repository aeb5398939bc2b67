import { findNodeAtLocation } from 'jsonc-parser';
import { jsonPointer, positionOf, type RuleError } from './rule-error.ts';
import type { LoadedFile } from './load-rule-files.ts';

/** Where a value came from: a rule file and the path into it. */
export interface Place {
  file: string;
  path: (string | number)[];
}

/** Collects the findings of the checks that run on a schema-valid rule set, each located in its file. */
export interface Report {
  errors: RuleError[];
  /** Suspicious but workable: printed, yet the rules stay valid (exit 0). */
  warnings: RuleError[];
  error(place: Place, message: string, hint: string): void;
  warn(place: Place, message: string, hint: string): void;
}

export function createReport(files: Map<string, LoadedFile>): Report {
  const locate = (place: Place, message: string, hint: string): RuleError => {
    const loaded = files.get(place.file);
    const node = loaded?.tree ? findNodeAtLocation(loaded.tree, place.path) : undefined;
    const pos = loaded && node ? positionOf(loaded.text, node.offset) : { line: 1, column: 1 };
    return { file: place.file, ...pos, pointer: jsonPointer(place.path), message, hint };
  };
  const report: Report = {
    errors: [],
    warnings: [],
    error: (place, message, hint) => report.errors.push(locate(place, message, hint)),
    warn: (place, message, hint) => report.warnings.push(locate(place, message, hint)),
  };
  return report;
}

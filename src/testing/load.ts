// Loads and checks one workflow test file (*.test.yaml): the schema stage with kind `test`, then
// what the schema cannot see (the workflow exists, step ids exist in it, response files exist,
// field names belong to the workflow's object). Pure checks with located diagnostics; it runs
// nothing, so the loader (workflow/project.ts) can call it without knowing about the engine.
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DiagnosticSink, type Diagnostic } from '../diagnostics.js';
import type { TestFile } from '../generated/test.js';
import type { WorkflowFile } from '../generated/workflow.js';
import { allowedList, didYouMean } from '../workflow/did-you-mean.js';
import type { ProjectScope } from '../workflow/context.js';
import { checkSchema } from '../workflow/schema-stage.js';
import { loadYamlFile, type JsonPath, type LocatedDoc } from '../workflow/source.js';

export interface LoadedTest {
  /** Absolute path. */
  path: string;
  /** Path as shown to users (relative to cwd). */
  file: string;
  /** Present when the file parsed and passed the schema stage. */
  def?: TestFile;
  doc?: LocatedDoc;
  diagnostics: Diagnostic[];
  /** No errors: safe to run. */
  valid: boolean;
}

/** `*.test.yaml` / `*.test.yml`: workflow tests, never workflows. */
export const isTestFile = (name: string) => /\.test\.ya?ml$/.test(name);

/** The step ids a test may name: the steps, or `list` for an import (as `plan` and run history name it). */
export function stepIdsOf(wf: WorkflowFile): string[] {
  return wf.import ? ['list'] : (wf.steps ?? []).map((s) => s.id);
}

/** Loads a test file and checks it against the project's valid workflows. */
export function loadTest(path: string, file: string, workflows: WorkflowFile[], scope: ProjectScope, broken: ReadonlyMap<string, string> = new Map()): LoadedTest {
  const sink = new DiagnosticSink();
  const doc = loadYamlFile(path, file, sink);
  let def: TestFile | undefined;
  if (doc && checkSchema('test', doc, sink)) {
    def = doc.value as TestFile;
    checkTest(def, doc, dirname(path), workflows, scope, sink, broken);
  }
  return { path, file, def, doc, diagnostics: sink.items, valid: def !== undefined && sink.errorCount === 0 };
}

const article = (word: string) => (/^[aeiou]/.test(word) ? 'an' : 'a');

function checkTest(def: TestFile, doc: LocatedDoc, baseDir: string, workflows: WorkflowFile[], scope: ProjectScope, sink: DiagnosticSink, broken: ReadonlyMap<string, string>): void {
  const err = (code: Parameters<DiagnosticSink['error']>[0], message: string, at: JsonPath, which: 'key' | 'value' = 'value') => sink.error(code, message, doc.file, doc.locate(at, which));
  const wf = workflows.find((w) => w.name === def.workflow);
  if (!wf && broken.has(def.workflow)) {
    err('test-workflow-invalid', `workflow "${def.workflow}" (${broken.get(def.workflow)}) has errors, so its tests cannot run; fix them first (skein validate shows them)`, ['workflow']);
    return;
  }
  if (!wf) {
    const names = workflows.map((w) => w.name);
    err('test-unknown-workflow', `no workflow named "${def.workflow}" in this directory${didYouMean(def.workflow, names)}; workflows: ${allowedList(names, 30) || '(none)'}`, ['workflow']);
  }
  const steps = wf ? stepIdsOf(wf) : undefined;
  const obj = wf ? scope.objects.get(wf.object) : undefined;
  const seen = new Map<string, number>();
  for (const [i, c] of def.cases.entries()) {
    const at = ['cases', i] as const;
    const first = seen.get(c.name);
    if (first !== undefined) err('test-case', `case name "${c.name}" is also used by case ${first + 1}; names must be unique in the file`, [...at, 'name']);
    else seen.set(c.name, i);
    const ev = c.event;
    // An import lists the vendor's users itself: a schedule or manual case needs no record.
    const runNeeds = wf?.import ? [] : ['record'];
    const needs: Record<string, string[]> = { created: ['record'], deleted: ['record'], schedule: runNeeds, manual: runNeeds, updated: ['before', 'after'] };
    const takes = (k: string) => (needs[ev.kind] ?? []).includes(k) || ((ev.kind === 'schedule' || ev.kind === 'manual') && k === 'record');
    for (const k of needs[ev.kind] ?? []) {
      if (ev[k as 'record'] === undefined) err('test-case', `${article(ev.kind)} ${ev.kind} event needs ${k}: { ... }${ev.kind === 'updated' ? ' (the record before, and the changed fields)' : ' (the record, with its key field)'}`, [...at, 'event'], 'key');
    }
    for (const k of ['record', 'before', 'after'] as const) {
      if (ev[k] !== undefined && !takes(k)) err('test-case', `${article(ev.kind)} ${ev.kind} event does not take ${k}; it takes ${ev.kind === 'updated' ? 'before and after' : 'record'}`, [...at, 'event', k], 'key');
    }
    for (const [id, r] of Object.entries(c.responses ?? {})) {
      if (r.body !== undefined && r.file !== undefined) err('test-case', `response for step "${id}" has both body and file; give one`, [...at, 'responses', id, 'file'], 'key');
      if (r.file !== undefined) {
        const p = resolve(baseDir, r.file);
        if (!existsSync(p) || !statSync(p).isFile()) err('test-file-missing', `response file ${r.file} does not exist (paths are relative to the test file)`, [...at, 'responses', id, 'file']);
      }
    }
    if (steps) {
      const known = (id: string, path: JsonPath) => {
        if (!steps.includes(id)) err('test-unknown-step', `workflow ${def.workflow} has no step "${id}"${didYouMean(id, steps)}; steps: ${allowedList(steps)}`, path, 'key');
      };
      for (const id of Object.keys(c.responses ?? {})) known(id, [...at, 'responses', id]);
      for (const id of Object.keys(c.expect.steps ?? {})) known(id, [...at, 'expect', 'steps', id]);
    }
    if (obj) {
      const fields = Object.keys(obj.fields);
      const checkFields = (rec: Record<string, unknown> | undefined, path: JsonPath, needKey: boolean) => {
        if (!rec) return;
        for (const f of Object.keys(rec)) {
          if (!Object.hasOwn(obj.fields, f)) err('unknown-field', `object ${obj.name} has no field "${f}"${didYouMean(f, fields)}`, [...path, f], 'key');
        }
        if (needKey && (rec[obj.key] === undefined || rec[obj.key] === '')) err('test-case', `the record needs its key field ${obj.key}`, path, 'key');
      };
      checkFields(ev.record, [...at, 'event', 'record'], true);
      checkFields(ev.before, [...at, 'event', 'before'], true);
      checkFields(ev.after, [...at, 'event', 'after'], false);
      for (const [j, r] of (c.records ?? []).entries()) checkFields(r, [...at, 'records', j], true);
      checkFields(c.expect.fields, [...at, 'expect', 'fields'], false);
      for (const [k, r] of Object.entries(c.expect.records ?? {})) checkFields(r, [...at, 'expect', 'records', k], false);
    }
  }
}

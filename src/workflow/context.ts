// What semantic rules see: one workflow (value + located document) and the project around it.
import type { DiagnosticCode, DiagnosticSink } from '../diagnostics.js';
import type { WorkflowFile } from '../generated/workflow.js';
import type { Preset } from '../presets/registry.js';
import type { ObjectDef } from './objects.js';
import type { JsonPath, LocatedDoc } from './source.js';

/** The project-wide names a workflow may refer to. */
export interface ProjectScope {
  objects: Map<string, ObjectDef>;
  variables: Set<string>;
  credentials: Set<string>;
  presets: Map<string, Preset>;
}

export interface WorkflowContext {
  doc: LocatedDoc;
  wf: WorkflowFile;
  project: ProjectScope;
  /** The workflow's object, when it exists. */
  object?: ObjectDef;
  sink: DiagnosticSink;
  error(code: DiagnosticCode, message: string, path: JsonPath, which?: 'key' | 'value'): void;
  warning(code: DiagnosticCode, message: string, path: JsonPath, which?: 'key' | 'value'): void;
  /** Reports at characters [index, index+length) inside the string at `path`. */
  errorInString(code: DiagnosticCode, message: string, path: JsonPath, index: number, length: number): void;
}

export function makeContext(doc: LocatedDoc, wf: WorkflowFile, project: ProjectScope, sink: DiagnosticSink): WorkflowContext {
  return {
    doc,
    wf,
    project,
    object: project.objects.get(wf.object),
    sink,
    error: (code, message, path, which) => sink.error(code, message, doc.file, doc.locate(path, which)),
    warning: (code, message, path, which) => sink.warning(code, message, doc.file, doc.locate(path, which)),
    errorInString: (code, message, path, index, length) => sink.error(code, message, doc.file, doc.locateInString(path, index, length)),
  };
}

export type WorkflowRule = (ctx: WorkflowContext) => void;

// The semantic rules, run in this order on every schema-valid workflow.
import type { WorkflowRule } from '../context.js';
import { checkRules } from './conditions.js';
import { checkImport } from './import.js';
import { checkObject } from './object.js';
import { checkSteps } from './steps.js';
import { checkTrigger } from './trigger.js';

export const WORKFLOW_RULES: WorkflowRule[] = [checkObject, checkTrigger, checkRules, checkSteps, checkImport];

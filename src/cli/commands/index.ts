// The one list of subcommands. Add a command by writing its module and listing it here.
import type { Command } from '../command.js';
import { validateCommand } from './validate.js';

export const commands: Command[] = [validateCommand];

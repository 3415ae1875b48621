/** Every synthetic edge case, in the order of the README table. */
import type { EdgeCase } from './edge-case.js';
import { streamCases } from './edge-cases-stream.js';
import { formatCases, pcapngCases } from './edge-cases-format.js';
import { errorCases } from './edge-cases-errors.js';
import { fragmentCases, nflogCases } from './edge-cases-fragments.js';

export type { EdgeCase, BuiltCase } from './edge-case.js';
export { labelsOf } from './edge-case.js';

export const edgeCases: EdgeCase[] = [...streamCases, ...formatCases, ...fragmentCases, ...nflogCases, ...pcapngCases, ...errorCases];

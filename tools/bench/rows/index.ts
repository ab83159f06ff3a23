/** Every row group of the bench, in the order of issue 8 §1. A new group is one line here. */
import type { RowGroup } from '../types';
import { filesGroup } from './files';
import { guestGroup } from './guest';
import { httpGroup } from './http';
import { latencyGroup } from './latency';
import { outputGroup } from './output';
import { provisionGroup } from './provision';
import { rssGroup } from './rss';
import { scanGroup } from './scan';
import { storesGroup } from './stores';
import { trivialGroup } from './trivial';

export const ROW_GROUPS: readonly RowGroup[] = [trivialGroup, latencyGroup, filesGroup, outputGroup, rssGroup, provisionGroup, guestGroup, scanGroup, storesGroup, httpGroup];

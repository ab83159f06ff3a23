/**
 * The package index the tests install from: the same choice as the dev tools
 * make (tools/pip-index.ts), $CASPARIAN_PIP_INDEX_URL first, else the first
 * local index of pip's own configuration.
 */
import { pipIndexUrl } from '../../tools/pip-index';

export { localIndexFromPipConfig } from '../../tools/pip-index';

/** The index URL for test workers and env managers (undefined: pip's own configuration applies). */
export function testIndexUrl(): string | undefined {
  return pipIndexUrl();
}

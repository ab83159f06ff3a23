import { stateLabel } from '../format';

export function StateBadge({ state }: { state: string | undefined }) {
  const label = stateLabel(state);
  return <span class={`badge state-${label.toLowerCase()}`} data-state={label}>{label}</span>;
}

import { decide, type Decision, type DecisionInput } from './policy.js';
import type { EniView } from '../snapshot/types.js';
import type { Reservation } from '../store/types.js';
export interface ForecastInput extends DecisionInput {
  snapshotAgeSeconds?: number;
  enis?: readonly EniView[];
  reservations?: readonly Reservation[];
  now?: number;
}
export function decideForecast(input: ForecastInput): Decision {
  return decide({ ...input, settings: { ...input.settings, policy: 'static', staticBuffer: 0 } });
}

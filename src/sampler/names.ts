// The `subnet` label and /admit's name keys. Pure: the sampler feeds it and logs what it refuses.
import { looksLikeSubnetId } from '../config/schema.js';

export interface RefusedName {
  subnetId: string;
  name: string;
  reason: string;
}

/**
 * Names by subnet id: the configured name, else the name learned from a Glue connection when that name is safe
 * to resolve. A learned name shaped like a subnet id, equal to another subnet's configured name, or learned for
 * two subnets is refused (every claimant keeps its id): a name must point at one subnet, and an id at its own.
 */
export function resolveSubnetNames(
  configured: readonly { id: string; name?: string }[],
  learned: ReadonlyMap<string, string>,
): { names: Map<string, string>; refused: RefusedName[] } {
  const names = new Map<string, string>();
  const configuredOwner = new Map<string, string>();
  for (const s of configured) {
    if (s.name === undefined) continue;
    names.set(s.id, s.name);
    configuredOwner.set(s.name, s.id);
  }
  const claimants = new Map<string, string[]>();
  for (const [id, name] of learned) {
    // A connection named after its own subnet's id names it as the id would: nothing to refuse.
    if (names.has(id) || name === id) continue;
    const ids = claimants.get(name);
    if (ids) ids.push(id);
    else claimants.set(name, [id]);
  }
  const refused: RefusedName[] = [];
  for (const [name, ids] of claimants) {
    for (const id of ids) {
      const reason = looksLikeSubnetId(name)
        ? 'looks like a subnet id'
        : configuredOwner.has(name)
          ? `is the configured name of ${configuredOwner.get(name)}`
          : ids.length > 1
            ? `also names ${ids.filter((other) => other !== id).join(', ')}`
            : undefined;
      if (reason === undefined) names.set(id, name);
      else refused.push({ subnetId: id, name, reason });
    }
  }
  return { names, refused };
}

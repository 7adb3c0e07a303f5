// How a fleet's nodes share the 256 one-byte key IDs of a gateway URL (docs/deploy.md "A fleet"): two colours,
// blue 0-127 and green 128-255, so that an upgrade starts the idle colour beside the serving one; within a
// colour, node N (a StatefulSet ordinal, an Azure Uniform scale set's instance ID) holds KEY_IDS_PER_NODE IDs
// from the colour's base. The one place the scheme is computed: scripts/deploy/fleet/renderKubernetes.ts and a
// node reading its own range (instanceKeyIds.ts) both call ordinalKeyIds. (The Kubernetes pods' shell command
// in kubernetes/base/nodes.yaml repeats the arithmetic; manifests.test.ts runs it against this.)
import type { KeyIdRange } from '../ohttp/rotationSchedule.js';

/** 4 hold the default schedule (2 live keys) with room for an overlap of almost three rotation periods. */
export const KEY_IDS_PER_NODE = 4;
/** Half of the 256 key IDs per colour. */
export const COLOUR_KEY_IDS = 128;
export const COLOUR_BASES = { blue: 0, green: 128 } as const;
export type Colour = keyof typeof COLOUR_BASES;

export interface KeyIdLayout {
  /** The colour's first key ID. */
  readonly base: number;
  readonly perNode: number;
  /** How many key IDs the colour has (default COLOUR_KEY_IDS). */
  readonly span?: number;
}

/** Node `ordinal`'s key IDs, base + ordinal * perNode onwards; undefined past the colour's span (that node has none). */
export function ordinalKeyIds({ base, perNode, span = COLOUR_KEY_IDS }: KeyIdLayout, ordinal: number): KeyIdRange | undefined {
  const first = base + ordinal * perNode;
  const last = first + perNode - 1;
  if (!Number.isSafeInteger(ordinal) || ordinal < 0 || last >= base + span || last > 255) return undefined;
  return { first, last };
}

/** The colour's layout under the fleet's scheme. */
export const colourLayout = (colour: Colour): KeyIdLayout => ({ base: COLOUR_BASES[colour], perNode: KEY_IDS_PER_NODE });

export const isColour = (s: string): s is Colour => Object.hasOwn(COLOUR_BASES, s);

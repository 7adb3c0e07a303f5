// The verdict told as a short story a non-expert can follow, built as DOM nodes (text only, never parsed as HTML):
// a SIMULATED banner first when the evidence says so, the verdict in words and a symbol (never colour alone), then
// the hardware, the software and where it is published, the keys the evidence binds, and every failed check in
// plain words beside its error code and the verifier's own message.
import type { ImageInput } from '../../attestation/client/loggedMeasurements.js';
import type { FailedCheck, ServerReport } from '../../attestation/client/serverReport.js';
import type { PageTrust } from './trust.js';
import { plainWords } from './plainWords.js';

/** What was verified, for the story's first sentence. */
export interface Subject {
  /** "the server at https://..." or "the file evidence.json". */
  readonly what: string;
  readonly trust?: PageTrust;
  /**
   * The inputs of the logged image (loggedImageInputs): null when the log does not hold its manifest, a failure when
   * what it holds is not that manifest; absent without a log.
   */
  readonly image?: { readonly inputs: readonly ImageInput[] | null } | { readonly failure: FailedCheck };
  /** Files the visitor may save, to check the same evidence again offline. */
  readonly keep?: readonly { readonly name: string; readonly bytes: Uint8Array }[];
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Readonly<Record<string, string>>, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

const code = (text: string): HTMLElement => el('code', {}, text);

function row(field: string, term: string, ...description: (Node | string)[]): HTMLElement[] {
  return [el('dt', {}, term), el('dd', { 'data-field': field }, ...description)];
}

function simulatedBanner(): HTMLElement {
  return el(
    'div',
    { class: 'banner-simulated', role: 'alert', 'data-field': 'simulated' },
    el('strong', {}, '⚠ SIMULATED — NOT A REAL TEE'),
    el('span', {}, ' This server runs on a simulated confidential VM signed with its own development key. Nothing it processes is confidential; use it only to try Cloister locally.'),
  );
}

function hardwareText(r: ServerReport): string {
  const h = r.hardware;
  if (h === undefined) return 'Unknown: the evidence could not be read.';
  const chip = h.vendor === 'AMD' ? `an AMD ${h.product} processor (${h.technology})` : `an Intel processor with ${h.technology} (${h.product})`;
  const root = h.root === undefined ? '' : r.simulated ? `, certified by its own development root "${h.root}", not ${h.vendor}'s` : `, certified by ${h.vendor}'s root "${h.root}"`;
  return `A confidential VM on ${chip}${root}.`;
}

function tcbText(r: ServerReport): string {
  const h = r.hardware;
  if (h === undefined) return 'unknown';
  if (h.vendor === 'Intel') return `${h.tcbStatus}: ${h.tcb}`;
  return `firmware and microcode versions reported: ${h.tcb}`;
}

function measurementNodes(r: ServerReport, subject: Subject): (Node | string)[] {
  const m = r.measurement;
  if (m === undefined) return ['Unknown: the evidence could not be read.'];
  const value = code(m.value);
  if (m.judged === 'logged' && r.logged !== undefined) {
    const l = r.logged;
    const witnesses = subject.trust?.log?.witnesses ?? [];
    return [
      value,
      el('br', {}),
      `✔ Published in the transparency log ${l.origin}: entry ${l.logIndex}, in a checkpoint of ${l.treeSize} entries (root hash `,
      code(l.rootHash),
      `) signed by the log${witnesses.length === 0 ? ' (no witnesses were asked for)' : ` and cosigned by the witnesses you named: ${witnesses.join(', ')}`}.`,
      ...(subject.trust?.log?.keyPinned === false ? [' The log key was fetched from the log itself: pin it for a stronger check.'] : []),
    ];
  }
  if (m.judged === 'any') return [value, el('br', {}), '⚠ Not checked: any measurement was accepted.'];
  if (m.judged === 'listed') return [value, el('br', {}), subject.trust?.source === 'simulated' ? '✔ The simulated TEE’s own measurement (allowed because you allowed simulation).' : '✔ One of the launch measurements you gave.'];
  return [value, el('br', {}), r.failures.some((f) => f.code === 'MEASUREMENT_NOT_LOGGED') ? '✘ Not in the transparency log.' : 'Not judged: verification stopped before.'];
}

function modelNodes(subject: Subject): (Node | string)[] {
  const image = subject.image;
  if (image === undefined || ('inputs' in image && image.inputs === null)) return ['Part of the image whose manifest is above; the log does not hold that manifest, so its packs cannot be listed here.'];
  if ('failure' in image) return [`✘ The log’s copy of the image manifest does not check out (`, code(image.failure.code), `): ${image.failure.message}`];
  const packs = (image.inputs ?? []).filter((i) => i.kind === 'model');
  if (packs.length === 0) return ['None: the image (its manifest above, published in the log) holds no model pack.'];
  return [`In the image, as its manifest published in the log lists them: `, ...packs.flatMap((p, i) => [i === 0 ? '' : '; ', `${p.name} ${p.version} (SHA-256 `, code(p.sha256), ')'])];
}

function failureItem(f: FailedCheck): HTMLElement {
  const detail = [f.field === undefined ? '' : `field ${f.field}`, f.expected === undefined ? '' : `expected ${f.expected}`, f.actual === undefined ? '' : `found ${f.actual}`].filter((s) => s !== '').join('; ');
  return el(
    'li',
    { 'data-code': f.code },
    el('strong', {}, `✘ ${plainWords(f.code)}`),
    el('br', {}),
    'Error code ',
    code(f.code),
    ` in check ${f.check}. The verifier says: ${f.message}${detail === '' ? '' : ` (${detail})`}`,
  );
}

/** The story of `r`, replacing the children of `into`. */
export function renderReport(into: HTMLElement, r: ServerReport, subject: Subject): void {
  const verdict = r.accepted
    ? el('h2', { class: 'verdict verdict-accepted', 'data-field': 'verdict', 'data-verdict': 'accepted' }, '✔ Verified')
    : el('h2', { class: 'verdict verdict-rejected', 'data-field': 'verdict', 'data-verdict': 'rejected' }, '✘ Not verified');
  const summary = r.accepted
    ? `${subject.what} proved, with a signature from its processor, that it runs the software below inside a confidential VM${r.keys.length === 0 ? '' : ', and that only that VM holds the keys your requests are encrypted to'}. Checked in this browser: ${r.checksPassed} checks passed.`
    : `${subject.what} could not prove what it runs. Do not send it anything private. What failed is listed below.`;
  const story = el('dl', { class: 'story' });
  story.append(
    ...row('hardware', 'Hardware', hardwareText(r)),
    ...row('tcb', 'Firmware (TCB)', tcbText(r), ...(r.hardwarePolicy === undefined ? [] : [el('br', {}), `Logged hardware policy: ${r.hardwarePolicy.detail}`])),
    ...row('measurement', 'Software (launch measurement)', ...measurementNodes(r, subject)),
  );
  if (r.logged !== undefined) {
    story.append(
      ...row('source', 'Source', 'Built from commit ', code(r.logged.sourceCommit), `, image ${r.logged.imageVariant} (manifest SHA-256 `, code(r.logged.imageManifest), ')', ...(r.logged.notes.length === 0 ? [] : [el('br', {}), `Notes: ${r.logged.notes.join('; ')}`])),
      ...row('models', 'Model packs', ...modelNodes(subject)),
    );
  }
  if (r.keys.length > 0) {
    story.append(...row('keys', 'Encryption keys (OHTTP)', `${r.keys.length} key configuration(s) bound into the evidence: `, ...r.keys.flatMap((k, i) => [i === 0 ? '' : '; ', `key ID ${k.keyId}, ${k.kem} with ${k.suites.join(', ')}`])));
  }
  if (r.certificate !== undefined) story.append(...row('certificate', 'Certificate', `Valid until ${r.certificate.notAfter}; public key SHA-256 `, code(r.certificate.spkiSha256)));
  if (subject.keep !== undefined && subject.keep.length > 0) {
    const links = subject.keep.flatMap((f, i) => [i === 0 ? '' : ', ', el('a', { href: URL.createObjectURL(new Blob([new Uint8Array(f.bytes)])), download: f.name }, f.name)]);
    story.append(...row('keep', 'Keep the evidence', 'Save ', ...links, ' to check it again later, offline: drop them onto this page, or run cloister verify-evidence.'));
  }
  const children: Node[] = [];
  if (r.simulated) children.push(simulatedBanner());
  children.push(verdict, el('p', { class: 'summary' }, summary));
  if (r.failures.length > 0) children.push(el('h3', {}, 'Failed checks'), el('ul', { class: 'failures', 'data-field': 'failures' }, ...r.failures.map(failureItem)));
  children.push(story);
  into.replaceChildren(...children);
  into.dataset.state = r.accepted ? 'accepted' : 'rejected';
}

/** A verification that could not run (the server unreachable, no trust given, an unreadable file). */
export function renderFailure(into: HTMLElement, subject: Subject, failure: FailedCheck): void {
  into.replaceChildren(
    el('h2', { class: 'verdict verdict-rejected', 'data-field': 'verdict', 'data-verdict': 'error' }, '✘ Could not verify'),
    el('p', { class: 'summary' }, `${subject.what} could not be checked.`),
    el('ul', { class: 'failures', 'data-field': 'failures' }, failureItem(failure)),
  );
  into.dataset.state = 'error';
}

export function renderPending(into: HTMLElement, what: string): void {
  into.replaceChildren(el('p', { class: 'pending' }, `Verifying ${what}…`));
  into.dataset.state = 'pending';
}

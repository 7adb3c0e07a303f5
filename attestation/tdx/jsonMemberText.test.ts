import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ParseError } from '../errors.js';
import { onlyParseErrors } from '../testing/parseErrors.js';
import { vector } from '../testing/vectors.js';
import { jsonMemberText } from './jsonMemberText.js';

const refused = (text: string, member: string, message: RegExp): void => {
  assert.throws(() => jsonMemberText(text, member), (e: unknown) => e instanceof ParseError && e.code === 'MALFORMED_FIELD' && message.test(e.message), text);
};

/**
 * JSON text for `value` with whitespace from `ws` (cycled) around every token, keys written with some
 * characters as \uXXXX escapes, and the exact text written for each top-level member's value.
 */
function serialize(value: Readonly<Record<string, unknown>>, ws: readonly string[], escapes: readonly boolean[]): { text: string; members: Map<string, string> } {
  let w = 0;
  let e = 0;
  const space = (): string => ws[w++ % ws.length] ?? '';
  // Escaped code unit by code unit, so a character above the BMP becomes its two surrogates, as JSON writes it.
  const escaped = (k: string): string => `"${Array.from({ length: k.length }, (_, i) => `\\u${k.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')}"`;
  const key = (k: string): string => (escapes[e++ % escapes.length] === true ? escaped(k) : JSON.stringify(k));
  const write = (v: unknown): string => {
    if (Array.isArray(v)) return `[${space()}${v.map((x) => `${space()}${write(x)}${space()}`).join(',')}]`;
    if (typeof v === 'object' && v !== null) return `{${Object.entries(v).map(([k, x]) => `${space()}${key(k)}${space()}:${space()}${write(x)}${space()}`).join(',')}${space()}}`;
    return JSON.stringify(v);
  };
  const members = new Map<string, string>();
  const parts = Object.entries(value).map(([k, x]) => {
    const text = write(x);
    members.set(k, text);
    return `${space()}${key(k)}${space()}:${space()}${text}${space()}`;
  });
  return { text: `${space()}{${parts.join(',')}${space()}}${space()}`, members };
}

const whitespace = fc.array(fc.stringMatching(/^[ \t\n\r]{0,3}$/), { minLength: 1, maxLength: 40 });
const objects = fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 });

describe('jsonMemberText', () => {
  it("cuts Intel's signed tcbInfo and enclaveIdentity out of go-tdx-guest's recorded responses", () => {
    const derived = JSON.parse(new TextDecoder().decode(vector('derived/tdx-collateral-dcapqvl-format/go-tdx-guest_sample_v4_50806f000000.json'))) as { tcb_info: string; qe_identity: string };
    assert.equal(jsonMemberText(new TextDecoder().decode(vector('go-tdx-guest/sample_tcbInfo_response')), 'tcbInfo'), derived.tcb_info);
    assert.equal(jsonMemberText(new TextDecoder().decode(vector('go-tdx-guest/sample_qeIdentity_response')), 'enclaveIdentity'), derived.qe_identity);
  });

  it('returns the text as written: whitespace inside kept, around it dropped; strings holding braces, quotes and escapes', () => {
    assert.equal(jsonMemberText('{ "a" : 1 ,\n "tcbInfo" :\t{ "x" : [ 1 , 2 ] } \n}', 'tcbInfo'), '{ "x" : [ 1 , 2 ] }');
    assert.equal(jsonMemberText('{"s":"}\\"{[","tcbInfo":{"k":"\\\\"},"t":"\\u007d"}', 'tcbInfo'), '{"k":"\\\\"}');
    assert.equal(jsonMemberText('{"tcbInfo":-1.5e+3}', 'tcbInfo'), '-1.5e+3');
    assert.equal(jsonMemberText('{"\\u0074cbInfo":{}}', 'tcbInfo'), '{}');
    assert.equal(jsonMemberText('{"a":{"tcbInfo":1},"tcbInfo":2}', 'tcbInfo'), '2');
    assert.equal(jsonMemberText('{"a":[],"b":{},"tcbInfo":null}', 'tcbInfo'), 'null');
  });

  it('refuses text that is not JSON or not an object, a repeated key at any depth, a member only nested deeper', () => {
    refused('{"tcbInfo":{}', 'tcbInfo', /not valid JSON/);
    refused('[{"tcbInfo":{}}]', 'tcbInfo', /is not an object/);
    refused('{"tcbInfo":{},"tcbInfo":{}}', 'tcbInfo', /key "tcbInfo" appears twice/);
    refused('{"tcbInfo":{"a":1,"b":[{"c":1,"\\u0063":2}]}}', 'tcbInfo', /key "c" appears twice in one object \(at character 30\)/);
    refused('{"x":{"a":1,"a":1},"tcbInfo":{}}', 'tcbInfo', /key "a" appears twice/);
    refused('{"a":{"tcbInfo":{}}}', 'tcbInfo', /has no member "tcbInfo"/);
    refused('{}', 'tcbInfo', /has no member/);
  });

  it('walks deep nesting without recursion', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    assert.equal(jsonMemberText(`{"tcbInfo":${deep}}`, 'tcbInfo'), deep);
  });

  it('property: any object written with any whitespace and key escapes gives each member its exact text, which parses to the member', () => {
    fc.assert(
      fc.property(objects, whitespace, fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }), (value, ws, escapes) => {
        const { text, members } = serialize(value, ws, escapes);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        for (const [k, written] of members) {
          const span = jsonMemberText(text, k);
          assert.equal(span, written);
          assert.deepEqual(JSON.parse(span), parsed[k]);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('property: a key written twice in any object is refused', () => {
    fc.assert(
      fc.property(objects.filter((o) => Object.keys(o).length > 0), whitespace, fc.boolean(), (value, ws, nested) => {
        const [k, v] = Object.entries(value)[0] as [string, unknown];
        const { text } = serialize(nested ? { outer: value } : value, ws, [false]);
        // Add the first key again before the closing brace of `value`: the last one, or the one before it.
        const again = `,${JSON.stringify(k)}:${JSON.stringify(v)}`;
        const doubled = nested ? text.replace(/\}(\s*\}\s*)$/, (_, end: string) => `${again}}${end}`) : text.replace(/\}(\s*)$/, (_, end: string) => `${again}}${end}`);
        assert.throws(() => jsonMemberText(doubled, nested ? 'outer' : k), (e: unknown) => e instanceof ParseError && /appears twice/.test(e.message));
      }),
      { numRuns: 200 },
    );
  });

  it('property: arbitrary text either gives a member or raises ParseError', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (s) => { onlyParseErrors(() => jsonMemberText(s, 'a')); }), { numRuns: 500 });
    fc.assert(fc.property(fc.json(), (s) => { onlyParseErrors(() => jsonMemberText(s, 'a')); }), { numRuns: 500 });
  });
});

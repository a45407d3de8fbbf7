// The native nftables ruleset (firewalld's `table inet firewalld`, kube-proxy's nftables mode,
// Calico's nftables dataplane, a hand-written /etc/nftables.conf): `nft -j list ruleset`, one
// process; `nft list ruleset` only where nft has no JSON output. Read-only. nft missing is a skip
// with its reason; an unreadable listing is an error of this reader only.
import type { ParseError } from '../types.js';
import type { Section } from './sections.js';
import type { Reader } from './reader.js';
import type { NftFacts } from '../netfilter/node.js';
import { parseNftJson } from '../netfilter/nft-json.js';
import { parseNftText } from '../netfilter/nft-text.js';
import { isParseError } from '../types.js';
import { firstLine } from '../errors.js';
import { failureText } from './sections.js';

export const nftablesReader: Reader<'nftables'> = {
  key: 'nftables',
  sections: ['nftables'],
  script: () =>
    [
      'if command -v nft >/dev/null 2>&1; then',
      '  echo "@@nftables json"; ksv_run nft -j list ruleset',
      '  if [ "$ksv_c" -ne 0 ]; then echo "@@nftables text"; ksv_run nft list ruleset; fi',
      'else echo "@@nftables missing"; echo "@@rc 127"; fi',
    ].join('\n'),
  parse(sections): NftFacts | ParseError {
    const own = sections.filter((s) => s.name === 'nftables');
    if (!own.length) return { parseError: 'nft: no output' };
    if (own.some((s) => s.arg === 'missing'))
      return {
        ruleset: null,
        format: null,
        skipped: 'nft is not installed: native nftables tables (firewalld, kube-proxy nftables mode) were not read',
      };
    const json = own.find((s) => s.arg === 'json');
    const text = own.find((s) => s.arg === 'text');
    // the tables iptables-nft-save printed are read from it (model.ts combine): their copies in the
    // listing are neither built nor kept
    const xt = xtablesCopies(sections);
    const skip = (family: string, name: string) => family === 'ip' && xt.has(name);
    if (json && json.code === 0) {
      const rs = parseNftJson(json.body, skip);
      if (!isParseError(rs)) return { ruleset: rs, format: 'json', skipped: null };
      if (!text) return rs;
    }
    if (text && text.code === 0) {
      const rs = parseNftText(text.body);
      if (isParseError(rs)) return rs;
      return { ruleset: { tables: rs.tables.filter((t) => !skip(t.family, t.name)) }, format: 'text', skipped: null };
    }
    const failed = text ?? json!;
    return { parseError: `nft list ruleset failed (exit ${failed.code ?? '?'}): ${firstLine(failureText(failed))}` };
  },
};

/** The tables (`*filter`, …) iptables-nft-save printed in full, from the same round trip's sections. */
function xtablesCopies(sections: Section[]): Set<string> {
  const out = new Set<string>();
  for (const s of sections) {
    if (s.name !== 'iptables' || s.code !== 0 || s.arg === 'legacy') continue;
    if (s.arg === 'auto' && /\(legacy\)/.test(s.body)) continue;
    for (const m of s.body.matchAll(/^\*(\w+)\s*$/gm)) out.add(m[1]!);
  }
  return out;
}

// The native nftables ruleset (firewalld's `table inet firewalld`, kube-proxy's nftables mode,
// Calico's nftables dataplane, a hand-written /etc/nftables.conf): `nft -j list ruleset`, one
// process; `nft list ruleset` only where nft has no JSON output. Read-only. nft missing is a skip
// with its reason; an unreadable listing is an error of this reader only.
import type { ParseError } from '../types.js';
import type { Reader } from './reader.js';
import type { NftFacts } from '../netfilter/node.js';
import { parseNftJson } from '../netfilter/nft-json.js';
import { parseNftText } from '../netfilter/nft-text.js';
import { isParseError } from '../types.js';
import { firstLine } from '../errors.js';
import { failureText } from './sections.js';

export const nftablesReader: Reader<'nftables'> = {
  key: 'nftables',
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
    if (json && json.code === 0) {
      const rs = parseNftJson(json.body);
      if (!isParseError(rs)) return { ruleset: rs, format: 'json', skipped: null };
      if (!text) return rs;
    }
    if (text && text.code === 0) {
      const rs = parseNftText(text.body);
      return isParseError(rs) ? rs : { ruleset: rs, format: 'text', skipped: null };
    }
    const failed = text ?? json!;
    return { parseError: `nft list ruleset failed (exit ${failed.code ?? '?'}): ${firstLine(failureText(failed))}` };
  },
};

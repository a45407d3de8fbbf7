// What a reader is: one source read on a node — a POSIX sh fragment and a pure parser of its
// output into one NodeFacts field. Checks (src/checks/) declare the readers they need.
import type { Section } from './sections.js';
import type { ClusterModel, NodeFacts } from '../types.js';

/** Context a reader's script and parser see: the cluster the inventory describes. */
export interface ReaderContext {
  cluster: ClusterModel;
}

/** One source read on a node: a POSIX sh fragment printing `@@<section> [arg]`, output, `@@rc <code>`
 *  sections (see collect/sections.ts), and a pure parser from those sections to one NodeFacts field. */
export interface Reader<K extends keyof NodeFacts = keyof NodeFacts> {
  key: K;
  /** the shell fragment; read-only, every value in it quoted; starts as few processes as it can */
  script(ctx: ReaderContext): string;
  /** the sections its script prints, where its parser also reads the output of earlier versions of the
   *  script: a replayed bundle that holds them is read though the script's text has changed */
  sections?: readonly string[];
  /** never throws: unreadable output becomes a ParseError value in the field */
  parse(sections: Section[], ctx: ReaderContext): NodeFacts[K];
}

import { errors } from '../errors.js';
import { Tensor, type I32 } from '../tensor/tensor.js';

/** A character vocabulary: every distinct character of a text, sorted, one id each. */
export class CharVocab {
  readonly chars: string[];
  private readonly ids: Map<string, number>;

  constructor(chars: Iterable<string>) {
    this.chars = [...new Set(chars)].sort();
    this.ids = new Map(this.chars.map((c, i) => [c, i]));
  }

  static fromText(text: string): CharVocab {
    return new CharVocab(text);
  }

  get size(): number {
    return this.chars.length;
  }

  has(ch: string): boolean {
    return this.ids.has(ch);
  }

  /** Text → ids; a character outside the vocabulary is an error naming it and its position. */
  encode(text: string): I32 {
    const chars = [...text];
    const out = Tensor.zeros([chars.length], 'i32');
    chars.forEach((c, i) => {
      const id = this.ids.get(c);
      if (id === undefined) throw errors.badArgument('CharVocab.encode', `character ${JSON.stringify(c)} at position ${i} is not in the vocabulary`);
      out.data[i] = id;
    });
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const c = this.chars[ids[i]!];
      if (c === undefined) throw errors.indexOutOfRange('CharVocab.decode', ids[i]!, this.size, i);
      s += c;
    }
    return s;
  }
}

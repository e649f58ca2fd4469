/**
 * Byte-offset slicing of SQL source text.
 *
 * The Postgres parser reports positions (`stmt_location`, `stmt_len`, token
 * `start`/`end`) as byte offsets into the UTF-8 encoding of the input, while
 * JavaScript strings index UTF-16 code units. For ASCII text the two agree and
 * slicing is free; otherwise the UTF-8 bytes are built once and sliced.
 */

const NON_ASCII = /[^\x00-\x7f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** SQL text that can be sliced by the parser's byte offsets. */
export class SourceText {
  readonly text: string;
  /** True when every character is ASCII (byte offsets equal string indexes). */
  readonly ascii: boolean;
  private bytes: Buffer | undefined;

  constructor(text: string) {
    this.text = text;
    this.ascii = !NON_ASCII.test(text);
  }

  /**
   * False when the string has an unpaired surrogate. Such a string has no
   * exact UTF-8 form, so the parser's byte offsets could not be mapped back
   * reliably; the analyzer refuses it rather than guess.
   */
  get wellFormed(): boolean {
    return this.ascii || !LONE_SURROGATE.test(this.text);
  }

  /** Text between byte offsets `start` (inclusive) and `end` (exclusive; omitted = to the end). */
  slice(start: number, end?: number): string {
    if (this.ascii) return this.text.slice(start, end);
    this.bytes ??= Buffer.from(this.text, "utf8");
    return this.bytes.subarray(start, end).toString("utf8");
  }
}

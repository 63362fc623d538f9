/**
 * Raw statements that Prisma runs (`tx.$queryRawUnsafe(text, …)`, inside its interactive
 * transactions) prepared once per connection under a name, as the SqlRunner's statements are:
 * PostgreSQL parses and plans them once per connection instead of at every call. Only the texts
 * registered here are named; every other query Prisma sends stays unnamed, so the statements a
 * connection keeps are a known, small set.
 */
const nameOfText = new Map<string, string>();
const textOfName = new Map<string, string>();

/** Registers `text` to be prepared under `name` (distinct for each distinct text); answers the text. */
export function preparedRaw(name: string, text: string): string {
  const registered = textOfName.get(name);
  if (registered !== undefined && registered !== text) throw new Error(`prepared statement name ${name} is already given to another text`);
  textOfName.set(name, text);
  nameOfText.set(text, name);
  return text;
}

/**
 * The name of a registered statement, for Prisma's adapter (its `statementNameGenerator`, whose
 * answer becomes pg's `name`); undefined, an unnamed statement, for any other text.
 */
export function preparedRawName(query: { sql: string }): string | undefined {
  return nameOfText.get(query.sql);
}

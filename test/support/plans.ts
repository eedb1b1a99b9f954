/**
 * Plans as the tests read them: EXPLAIN's JSON of a query, or of a prepared statement run with its
 * values written as literals (EXECUTE takes no parameters), and every node of one.
 */
import type { PoolClient } from "pg";

import type { Queryable } from "../../shared/data/db";

/** A node of a plan as EXPLAIN (FORMAT JSON) writes it: the fields the tests read. */
export interface PlanNode {
  "Node Type": string;
  "Parent Relationship"?: string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Index Cond"?: string;
  "Plan Rows": number;
  "Actual Rows": number;
  "Actual Loops": number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Join Filter"?: number;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  /** With VERBOSE: each column the node returns, as SQL. */
  Output?: string[];
  Plans?: PlanNode[];
}

/** Every node of a plan, depth first. */
export const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

type PlanAnswer = { "QUERY PLAN": [{ Plan: PlanNode }] };

/** The plan of `query` run with its values; `options` as EXPLAIN takes them, FORMAT JSON added. */
export async function explainQuery(db: Queryable, query: { text: string; values?: unknown[] }, options = "ANALYZE"): Promise<PlanNode> {
  const { rows } = await db.query<PlanAnswer>({ text: `EXPLAIN (${options}, FORMAT JSON) ${query.text}`, values: query.values });
  return rows[0]["QUERY PLAN"][0].Plan;
}

/** A value as the text of a literal: an array in PostgreSQL's array syntax, its elements quoted. */
const literalText = (value: unknown): string =>
  Array.isArray(value)
    ? `{${value.map((e) => (e === null ? "NULL" : `"${String(e).replace(/["\\]/g, "\\$&")}"`)).join(",")}}`
    : String(value);

/**
 * The plan of the statement prepared on `client` as `name`, as the plan cache serves it now,
 * executed with `values`.
 */
export async function explainExecute(client: PoolClient, name: string, values: readonly unknown[], options = "ANALYZE"): Promise<PlanNode> {
  const literals = values.map((v) => (v === null ? "NULL" : client.escapeLiteral(literalText(v))));
  const { rows } = await client.query<PlanAnswer>(`EXPLAIN (${options}, FORMAT JSON) EXECUTE "${name}"(${literals.join(", ")})`);
  return rows[0]["QUERY PLAN"][0].Plan;
}

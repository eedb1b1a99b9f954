/**
 * A compiled ARM template as Azure would deploy it for given values of some parameters: every
 * expression that depends on them is evaluated (conditions, `if(...)`, `not`, `and`, `or`, `equals`),
 * resources whose condition is false are dropped, and nested deployments (modules) are specialized with
 * the booleans passed to them. Anything else is left as the expression it was, so a check still reads
 * the compiled text. One template, compiled once, then read as each setting deploys it.
 */

type Primitive = boolean | number | string;
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Value = { known: true; value: Json } | { known: false; text: string };

const unknown = (text: string): Value => ({ known: false, text });
const known = (value: Json): Value => ({ known: true, value });

function literal(value: Json): string {
  if (typeof value === "string") return `'${value.replace(/'/g, "''")}'`;
  if (typeof value === "boolean") return `${value}()`;
  if (value === null) return "null()";
  if (Array.isArray(value)) return `createArray(${value.map(literal).join(", ")})`;
  if (typeof value === "object")
    return `createObject(${Object.entries(value)
      .flatMap(([k, v]) => [literal(k), literal(v)])
      .join(", ")})`;
  return String(value);
}
const text = (v: Value) => (v.known ? literal(v.value) : v.text);

/** A recursive-descent reader of one ARM expression (the text between `[` and `]`). */
class Reader {
  private i = 0;
  constructor(
    private readonly source: string,
    private readonly parameters: Record<string, Primitive>,
  ) {}

  read(): Value {
    const value = this.expression();
    this.space();
    if (this.i !== this.source.length) throw new Error(`unparsed '${this.source.slice(this.i)}' in [${this.source}]`);
    return value;
  }

  private space() {
    while (this.source[this.i] === " ") this.i++;
  }

  private expression(): Value {
    let value = this.primary();
    for (;;) {
      if (this.source[this.i] === ".") {
        const name = /^\.(\w+)/.exec(this.source.slice(this.i))![1];
        this.i += name.length + 1;
        value = unknown(`${text(value)}.${name}`);
      } else if (this.source[this.i] === "[") {
        this.i++;
        const index = this.expression();
        this.expect("]");
        value = unknown(`${text(value)}[${text(index)}]`);
      } else return value;
    }
  }

  private expect(ch: string) {
    this.space();
    if (this.source[this.i] !== ch) throw new Error(`expected ${ch} at ${this.i} in [${this.source}]`);
    this.i++;
  }

  private primary(): Value {
    this.space();
    const rest = this.source.slice(this.i);
    if (rest.startsWith("'")) {
      let out = "";
      this.i++;
      for (;;) {
        const ch = this.source[this.i++];
        if (ch === undefined) throw new Error(`unterminated string in [${this.source}]`);
        if (ch === "'") {
          if (this.source[this.i] === "'") {
            out += "'";
            this.i++;
          } else break;
        } else out += ch;
      }
      return known(out);
    }
    const number = /^-?\d+/.exec(rest);
    if (number) {
      this.i += number[0].length;
      return known(Number(number[0]));
    }
    const name = /^[\w.]+/.exec(rest)?.[0];
    if (!name) throw new Error(`unexpected '${rest}' in [${this.source}]`);
    this.i += name.length;
    this.expect("(");
    const args: Value[] = [];
    this.space();
    if (this.source[this.i] === ")") this.i++;
    else {
      for (;;) {
        args.push(this.expression());
        this.space();
        if (this.source[this.i] === ",") this.i++;
        else {
          this.expect(")");
          break;
        }
      }
    }
    return this.call(name, args);
  }

  private call(name: string, args: Value[]): Value {
    const all = args.every((a) => a.known);
    const values = args.map((a) => (a.known ? a.value : undefined));
    const asText = () => unknown(`${name}(${args.map(text).join(", ")})`);
    switch (name) {
      case "parameters": {
        const parameter = values[0] as string;
        return parameter in this.parameters ? known(this.parameters[parameter]) : asText();
      }
      case "true":
        return known(true);
      case "null":
        return known(null);
      case "createArray":
        return all ? known(values as Json[]) : asText();
      case "createObject":
        return all
          ? known(Object.fromEntries(values.flatMap((v, i) => (i % 2 === 0 ? [[String(v), values[i + 1] as Json]] : []))))
          : asText();
      case "false":
        return known(false);
      case "not":
        return all ? known(!values[0]) : asText();
      case "and":
        if (args.some((a) => a.known && a.value === false)) return known(false);
        return all ? known(true) : asText();
      case "or":
        if (args.some((a) => a.known && a.value === true)) return known(true);
        return all ? known(false) : asText();
      case "equals":
        return all ? known(values[0] === values[1]) : asText();
      case "if":
        return args[0].known ? (args[0].value ? args[1] : args[2]) : asText();
      default:
        return asText();
    }
  }
}

function evaluate(expression: string, parameters: Record<string, Primitive>): Json {
  if (!expression.startsWith("[") || expression.startsWith("[[") || !expression.endsWith("]")) return expression;
  const value = new Reader(expression.slice(1, -1), parameters).read();
  return value.known ? value.value : `[${value.text}]`;
}

function walk(node: Json, parameters: Record<string, Primitive>): Json {
  if (typeof node === "string") return evaluate(node, parameters);
  if (Array.isArray(node)) return node.map((n) => walk(n, parameters));
  if (node && typeof node === "object") {
    const out: Record<string, Json> = {};
    for (const [key, value] of Object.entries(node)) {
      const specializedKey = evaluate(key, parameters);
      out[typeof specializedKey === "string" ? specializedKey : String(specializedKey)] = walk(value, parameters);
    }
    return out;
  }
  return node;
}

interface TemplateLike {
  parameters?: Record<string, { type: string; defaultValue?: Json }>;
  resources: ResourceLike[];
  [key: string]: unknown;
}
interface ResourceLike {
  type: string;
  condition?: Json;
  properties?: { template?: TemplateLike; parameters?: Record<string, { value: Json }> } & Record<string, unknown>;
  [key: string]: unknown;
}

/** The template as deployed with these parameter values (the others stay expressions); modules get the booleans passed to them. */
export function specialize<T>(template: T, values: Record<string, Primitive>): T {
  const t = template as unknown as TemplateLike;
  const resources = t.resources.flatMap((resource): ResourceLike[] => {
    const { properties, ...rest } = resource;
    const inner = resource.type === "Microsoft.Resources/deployments" ? properties?.template : undefined;
    const shallow = walk(rest as unknown as Json, values) as unknown as ResourceLike;
    if (shallow.condition === false) return [];
    if (shallow.condition === true) delete shallow.condition;
    if (properties !== undefined)
      shallow.properties = walk(
        (inner ? { ...properties, template: null } : properties) as unknown as Json,
        values,
      ) as ResourceLike["properties"];
    if (inner) {
      // A module: its own boolean parameters, from what is passed (now evaluated) or their defaults.
      const passed = shallow.properties?.parameters ?? {};
      const innerValues: Record<string, boolean> = {};
      for (const [name, definition] of Object.entries(inner.parameters ?? {})) {
        if (definition.type !== "bool") continue;
        const value = name in passed ? passed[name].value : definition.defaultValue;
        if (typeof value === "boolean") innerValues[name] = value;
      }
      shallow.properties!.template = specialize(inner, innerValues);
    }
    return [shallow];
  });
  const { resources: _resources, ...others } = t;
  void _resources;
  return { ...(walk(others as unknown as Json, values) as object), resources } as unknown as T;
}

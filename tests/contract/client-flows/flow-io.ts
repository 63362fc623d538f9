// What every generated client's flow gets (from the environment) and prints (one JSON line).
export interface FlowInput {
  baseUrl: string;
  admin: { name: string; password: string };
  user: { name: string; password: string };
  productName: string;
  keyword: string;
}

export function readInput(): FlowInput {
  return JSON.parse(process.env.FLOW_INPUT ?? "{}") as FlowInput;
}

export function report(result: Record<string, unknown>): void {
  console.log(JSON.stringify(result));
}

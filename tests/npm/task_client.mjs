// A real task-aware client (the MCP TypeScript SDK's experimental tasks API):
// runs one tool as a task through the gateway and prints each message as a JSON line.
// usage: node task_client.mjs TOOL ARGS_JSON [explicit] -- GATEWAY_COMMAND...
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [tool, args, explicit] = process.argv.slice(2, 5);
const command = process.argv.slice(process.argv.indexOf("--") + 1);
const transport = new StdioClientTransport({
  command: command[0],
  args: command.slice(1),
  env: process.env,
  stderr: "inherit",
});
const client = new Client({ name: "task-client", version: "1.0.0" });
await client.connect(transport);
const out = (line) => process.stdout.write(JSON.stringify(line) + "\n");
out({ type: "capabilities", tasks: client.getServerCapabilities()?.tasks ?? null });
// direct tools appear as their server becomes ready: list until this one is there
const deadline = Date.now() + 20000;
while (!(await client.listTools()).tools.some((t) => t.name === tool)) {
  if (Date.now() > deadline) throw new Error(`${tool} was not listed`);
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const options = explicit === "explicit" ? { task: { ttl: 60000 } } : {};
const stream = client.experimental.tasks.callToolStream(
  { name: tool, arguments: JSON.parse(args) },
  undefined,
  options,
);
for await (const message of stream) {
  if (message.type === "result") out({ type: "result", text: message.result.content[0].text });
  else if (message.type === "error") out({ type: "error", message: String(message.error) });
  else out({ type: message.type, taskId: message.task?.taskId, status: message.task?.status });
}
await client.close();

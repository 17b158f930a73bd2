// One DeepSeek reasoning tool turn through the Vercel AI SDK's OpenAI Responses model, store on:
// step 2 sends the reasoning and the answer of step 1 back as item_reference. Prints JSON.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, stepCountIs, tool } from "ai";

const [baseURL, apiKey] = process.argv.slice(2);
const sent = []; // each request body the SDK sent, as JSON
const openai = createOpenAI({
  baseURL,
  apiKey,
  fetch: async (url, init) => {
    sent.push(JSON.parse(init.body));
    return fetch(url, init);
  },
});
const calls = [];
const result = await generateText({
  model: openai.responses("gpt-5.5"),
  prompt: "What is the weather in Paris?",
  tools: {
    get_weather: tool({
      description: "The weather in a city",
      inputSchema: jsonSchema({
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"],
      }),
      execute: async ({ city }) => {
        calls.push(city);
        return `sunny in ${city}`;
      },
    }),
  },
  stopWhen: stepCountIs(3),
  providerOptions: { openai: { store: true, forceReasoning: true, reasoningSummary: "auto" } },
});
console.log(
  JSON.stringify({
    text: result.text,
    steps: result.steps.length,
    calls,
    reasoning: result.steps[0].reasoningText ?? null,
    requests: sent,
  }),
);

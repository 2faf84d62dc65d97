// Hive Gateway with its defaults: no response cache, no request deduplication, no JIT.
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({ supergraph: './supergraph.graphql' });

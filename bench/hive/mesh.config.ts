// Compose a supergraph from swr-local's OpenAPI document (the links in it give the nesting).
// SWR_BENCH_BACKEND is set by bench/nested_query.py.
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const backend = process.env.SWR_BENCH_BACKEND ?? 'http://127.0.0.1:18080';

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('SWR', {
        source: `${backend}/openapi.json`,
        endpoint: backend,
        // Forward the client's token, as our gateway does, instead of baking one in.
        operationHeaders: { 'X-Auth-Token': '{context.headers.x-auth-token}' },
      }),
    },
  ],
  // The document's ReposOfNamespace link is declared on ShowNamespace, whose body is the
  // namespace itself. Mesh reuses the type inside ListNamespaces' `{"namespaces": [...]}`
  // wrapper, where `$response.body#/name` is not the item's name: the link then asks for
  // every repository (2021 calls, 10000 tags). This field passes the item's own name.
  additionalTypeDefs: /* GraphQL */ `
    extend type ShowNamespace {
      repos: [ListReposDetails_response]
        @resolveTo(
          sourceName: "SWR"
          sourceTypeName: "Query"
          sourceFieldName: "ListReposDetails"
          requiredSelectionSet: "{ name }"
          sourceArgs: { namespace: "{root.name}" }
        )
    }
  `,
});

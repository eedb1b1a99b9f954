@description('Created after the function app, whose host name its event handler needs.')
param webPubSubName string
param hubName string
param functionAppHostName string
@description('Versionless Key Vault URI of the event-handler key; Web PubSub reads it with its own identity.')
param eventHandlerKeyUri string

resource service 'Microsoft.SignalRService/webPubSub@2024-03-01' existing = {
  name: webPubSubName
}

resource hub 'Microsoft.SignalRService/webPubSub/hubs@2024-03-01' = {
  parent: service
  name: hubName
  properties: {
    // Only clients holding a token from GET /ws/ may connect.
    anonymousConnectPolicy: 'deny'
    eventHandlers: [
      {
        // Local auth is off, so events carry no ce-signature: the key in the URL authenticates
        // Web PubSub to the events function. The template holds only a Key Vault reference, which
        // Web PubSub resolves when it calls; the key itself is never in the hub's properties.
        urlTemplate: 'https://${functionAppHostName}/webpubsub/events?key={@Microsoft.KeyVault(SecretUri=${eventHandlerKeyUri})}'
        userEventPattern: ''
        // connected greets a socket and counts it; disconnected frees its place (WS_MAX_CONNECTIONS_PER_USER).
        systemEvents: ['connected', 'disconnected']
      }
    ]
  }
}

output hubName string = hub.name

@description('Created after the function app, whose host name its event handler needs.')
param webPubSubName string
param hubName string
param functionAppHostName string
@secure()
@description('Carried by the event-handler URL; the events function refuses callers without it.')
param eventHandlerKey string

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
        // Web PubSub to the events function (uriComponent: a key never breaks the URL template).
        urlTemplate: 'https://${functionAppHostName}/webpubsub/events?key=${uriComponent(eventHandlerKey)}'
        userEventPattern: ''
        systemEvents: ['connected']
      }
    ]
  }
}

output hubName string = hub.name

param name string
param location string
param tags object = {}
@allowed(['Free_F1', 'Standard_S1', 'Premium_P1', 'Premium_P2'])
param skuName string = 'Standard_S1'
@description('Units; main.bicep checks the count against the tier.')
param capacity int = 1
param appPrincipalId string
@description('The service\'s own identity (Web PubSub takes one): reads the event-handler key from Key Vault.')
param identityId string
@description('Log Analytics workspace that receives its logs (diagnostic settings).')
param logAnalyticsWorkspaceId string
@description('Private networking: the REST API (the app\'s sends and client tokens) only through a private endpoint; browsers still connect from the internet. Web PubSub reads the event-handler key through a shared private link to Key Vault.')
param privateNetworking bool = false
@description('Key Vault that holds the event-handler key, for the shared private link.')
param keyVaultId string = ''

var webPubSubServiceOwner = '12cf5a90-567b-43ae-8102-96cf46c7d9b4'

resource service 'Microsoft.SignalRService/webPubSub@2024-03-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: skuName, tier: split(skuName, '_')[0], capacity: capacity }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    // Access keys off: the app signs client tokens and sends through its managed identity.
    disableLocalAuth: true
    disableAadAuth: false
    // Browsers connect over the internet whatever the setting; with private networking nothing else does.
    publicNetworkAccess: 'Enabled'
    networkACLs: privateNetworking
      ? { defaultAction: 'Allow', publicNetwork: { deny: ['RESTAPI', 'ServerConnection', 'Trace'] } }
      : { defaultAction: 'Allow' }
    tls: { clientCertEnabled: false }
  }
}

resource appOwnsService 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: service
  name: guid(service.id, appPrincipalId, webPubSubServiceOwner)
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', webPubSubServiceOwner)
  }
}

// Its logs go to the Log Analytics workspace (ingestion is billed per GB: docs/deploy.md).
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: service
  name: 'to-log-analytics'
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
  }
}

// Key Vault's public endpoint is closed with private networking: Web PubSub resolves the hub's Key Vault
// reference through a private endpoint of its own, which Key Vault's owner approves once (docs/deploy.md).
resource keyVaultLink 'Microsoft.SignalRService/webPubSub/sharedPrivateLinkResources@2024-03-01' = if (privateNetworking) {
  parent: service
  name: 'keyvault'
  properties: {
    groupId: 'vault'
    privateLinkResourceId: keyVaultId
    // infra/hooks/postdeploy.mjs approves the pending connection by this message.
    requestMessage: 'Web PubSub reads the event-handler key for its upstream URL'
  }
}

output id string = service.id
output name string = service.name
output endpoint string = 'https://${service.properties.hostName}'

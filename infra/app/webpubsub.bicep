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
    publicNetworkAccess: 'Enabled'
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

output name string = service.name
output endpoint string = 'https://${service.properties.hostName}'

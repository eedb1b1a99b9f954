param name string
param location string
param tags object = {}
@description('Principal of the app identity: reads the secrets.')
param appPrincipalId string
@description('Principal of Web PubSub\'s identity: reads the event-handler key only, for its upstream URL.')
param webPubSubPrincipalId string
@description('Principal of the person running azd: may manage the secrets. Empty to skip.')
param deployerPrincipalId string = ''
@description('Log Analytics workspace that receives its logs (diagnostic settings).')
param logAnalyticsWorkspaceId string
@description('Private networking: the public endpoint is closed and the app reaches this through a private endpoint (app/network.bicep).')
param privateNetworking bool = false
@secure()
param jwtSecret string
@secure()
param eventHandlerKey string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    // Purge protection: a deleted vault or secret cannot be purged before the retention ends, not even
    // by an owner (it cannot be turned off again). `azd down --purge` then leaves the vault's name taken
    // for those 7 days.
    enablePurgeProtection: true
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: { defaultAction: privateNetworking ? 'Deny' : 'Allow', bypass: 'AzureServices' }
  }
}

resource jwtSecretEntry 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'jwt-secret'
  properties: { value: jwtSecret }
}

resource eventHandlerKeyEntry 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'webpubsub-event-handler-key'
  properties: { value: eventHandlerKey }
}

resource appReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, appPrincipalId, keyVaultSecretsUser)
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

// Scoped to the one secret: Web PubSub cannot read the JWT signing key.
resource webPubSubReadsEventHandlerKey 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: eventHandlerKeyEntry
  name: guid(eventHandlerKeyEntry.id, webPubSubPrincipalId, keyVaultSecretsUser)
  properties: {
    principalId: webPubSubPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

resource deployerManagesSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  scope: vault
  name: guid(vault.id, deployerPrincipalId, keyVaultSecretsOfficer)
  properties: {
    principalId: deployerPrincipalId
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
  }
}

// Its logs go to the Log Analytics workspace (ingestion is billed per GB: docs/deploy.md).
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: vault
  name: 'to-log-analytics'
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
  }
}

output id string = vault.id
output name string = vault.name
output jwtSecretUri string = jwtSecretEntry.properties.secretUri
output eventHandlerKeyUri string = eventHandlerKeyEntry.properties.secretUri

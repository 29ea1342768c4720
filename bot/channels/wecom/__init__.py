"""The WeCom (企业微信) adapter: callback crypto, the API client, and the adapter itself."""

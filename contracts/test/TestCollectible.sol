// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// An ERC-721 for tests: anyone may mint any id. Not deployed by Herald; test/ code compiles it with solc-js.
contract TestCollectible is ERC721 {
    constructor() ERC721("Test Collectible", "TCOL") {}

    function mint(address to, uint256 tokenId) external {
        _mint(to, tokenId);
    }
}

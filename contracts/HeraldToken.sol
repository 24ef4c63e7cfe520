// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title HeraldToken
/// @notice A fixed-supply ERC-20 (18 decimals) deployed by Herald: the whole supply is minted once, to one recipient.
contract HeraldToken is ERC20 {
    /// @notice The recipient of the initial supply is the zero address.
    error HeraldTokenZeroRecipient();
    /// @notice The initial supply is zero.
    error HeraldTokenZeroSupply();

    /// @param name_ The token's name.
    /// @param symbol_ The token's symbol.
    /// @param initialSupply The supply in base units (whole tokens × 10^18).
    /// @param recipient Who receives the initial supply.
    constructor(string memory name_, string memory symbol_, uint256 initialSupply, address recipient)
        ERC20(name_, symbol_)
    {
        if (recipient == address(0)) revert HeraldTokenZeroRecipient();
        if (initialSupply == 0) revert HeraldTokenZeroSupply();
        _mint(recipient, initialSupply);
    }
}

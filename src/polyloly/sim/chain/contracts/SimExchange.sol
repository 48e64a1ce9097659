// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IERC20Min {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
}

interface ICTFMin {
    function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes calldata data) external;
}

interface IAdapterMin {
    function splitPosition(address collateral, bytes32 parent, bytes32 conditionId, uint256[] calldata partition, uint256 amount) external;
}

/// The local exchange simulator's settlement on the local chain: it stands where the CTF
/// Exchange V2 stands, so a wallet trades only with the allowances the real one needs (pUSD
/// `approve` for buys, CTF `setApprovalForAll` for sells). The simulator's operator settles
/// each fill of a wallet against the exchange's own inventory of positions (split from its
/// pUSD through the collateral adapter). Not Polymarket's matching contract: synthetic.
contract SimExchange {
    address public immutable operator;
    IERC20Min public immutable pusd;
    ICTFMin public immutable ctf;
    IAdapterMin public immutable adapter;

    event Moved(address indexed wallet, uint256[] tokenIds, int256[] shares, int256 cash);
    event Settled(address indexed wallet, uint256 indexed tokenId, bool buy, uint256 shares, uint256 cash);

    constructor(IERC20Min pusd_, ICTFMin ctf_, IAdapterMin adapter_) {
        operator = msg.sender;
        pusd = pusd_;
        ctf = ctf_;
        adapter = adapter_;
    }

    modifier onlyOperator() {
        require(msg.sender == operator, "exchange: only operator");
        _;
    }

    /// Mint `amount` of every outcome of a binary condition into the exchange's inventory.
    function stock(bytes32 conditionId, uint256 amount) external onlyOperator {
        uint256[] memory partition = new uint256[](2);
        partition[0] = 1;
        partition[1] = 2;
        pusd.approve(address(adapter), amount);
        adapter.splitPosition(address(pusd), bytes32(0), conditionId, partition, amount);
    }

    /// A BUY: the wallet pays `cash` pUSD and receives `shares` of `tokenId`; a SELL the reverse.
    function settle(address wallet, uint256 tokenId, bool buy, uint256 shares, uint256 cash) external onlyOperator {
        if (buy) {
            require(pusd.transferFrom(wallet, address(this), cash), "exchange: pUSD");
            ctf.safeTransferFrom(address(this), wallet, tokenId, shares, "");
        } else {
            ctf.safeTransferFrom(wallet, address(this), tokenId, shares, "");
            require(pusd.transfer(wallet, cash), "exchange: pUSD");
        }
        emit Settled(wallet, tokenId, buy, shares, cash);
    }

    /// Net balance changes of one wallet (signed, micro-units), as the simulator's ledger
    /// moved them: what the wallet receives is paid out first, then what it gives is pulled
    /// (pUSD through its `approve`, positions through its `setApprovalForAll`).
    function move(address wallet, uint256[] calldata tokenIds, int256[] calldata shares, int256 cash)
        external onlyOperator
    {
        require(tokenIds.length == shares.length, "exchange: lengths");
        if (cash > 0) require(pusd.transfer(wallet, uint256(cash)), "exchange: pUSD");
        for (uint256 i = 0; i < tokenIds.length; i++) {
            if (shares[i] > 0) ctf.safeTransferFrom(address(this), wallet, tokenIds[i], uint256(shares[i]), "");
        }
        for (uint256 i = 0; i < tokenIds.length; i++) {
            if (shares[i] < 0) ctf.safeTransferFrom(wallet, address(this), tokenIds[i], uint256(-shares[i]), "");
        }
        if (cash < 0) require(pusd.transferFrom(wallet, address(this), uint256(-cash)), "exchange: pUSD");
        emit Moved(wallet, tokenIds, shares, cash);
    }

    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external pure returns (bytes4) {
        return 0xf23a6e61;
    }

    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external pure returns (bytes4)
    {
        return 0xbc197c81;
    }
}
